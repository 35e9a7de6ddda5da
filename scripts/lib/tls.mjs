// A throwaway test PKI made with the openssl CLI: a CA and one server certificate for the given
// host names (and 127.0.0.1), so real registries can serve TLS under real host names.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** @param {string} dir @param {string[]} hostnames */
export function makeTestPki(dir, hostnames) {
  const path = (name) => join(dir, name)
  const run = (args) => execFileSync('openssl', args, { stdio: 'pipe' })
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=ecr-promote test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign'
  ])
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    path('server.key'),
    '-out',
    path('server.csr'),
    '-subj',
    `/CN=${hostnames[0]}`
  ])
  writeFileSync(
    path('server.ext'),
    [
      `subjectAltName=${[...hostnames.map((h) => `DNS:${h}`), 'IP:127.0.0.1'].join(',')}`,
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth'
    ].join('\n')
  )
  run([
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-out',
    path('server.pem'),
    '-days',
    '2',
    '-extfile',
    path('server.ext')
  ])
  return {
    caPath: path('ca.pem'),
    certPath: path('server.pem'),
    keyPath: path('server.key'),
    ca: readFileSync(path('ca.pem'), 'utf8'),
    cert: readFileSync(path('server.pem'), 'utf8'),
    key: readFileSync(path('server.key'), 'utf8')
  }
}
