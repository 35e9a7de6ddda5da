// Parses WWW-Authenticate challenges (RFC 7235) as registries send them:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull"
//   Basic realm="Registry Realm"

export interface Challenge {
  scheme: 'basic' | 'bearer' | string
  params: Record<string, string>
}

/** Returns every challenge in the header, scheme lower-cased, parameter names lower-cased. */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return []
  const challenges: Challenge[] = []
  let i = 0
  const n = header.length
  const skipSpace = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++
  }
  while (i < n) {
    skipSpace()
    while (i < n && header[i] === ',') {
      i++
      skipSpace()
    }
    const schemeMatch = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(header.slice(i))
    if (!schemeMatch) break
    const challenge: Challenge = { scheme: schemeMatch[0].toLowerCase(), params: {} }
    challenges.push(challenge)
    i += schemeMatch[0].length
    // Parameters until the next token that is followed by a space rather than '=' (a new scheme).
    for (;;) {
      skipSpace()
      // token68 form (e.g. `Negotiate abc==`): a lone credential-like token, not a parameter.
      const token68 = /^[A-Za-z0-9._~+/-]+=*(?=\s*(,|$))/.exec(header.slice(i))
      if (token68 && Object.keys(challenge.params).length === 0) {
        i += token68[0].length
        skipSpace()
        if (header[i] === ',') i++
        break
      }
      const paramMatch = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*/.exec(header.slice(i))
      if (!paramMatch) break
      i += paramMatch[0].length
      let value = ''
      if (header[i] === '"') {
        i++
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++
          value += header[i]
          i++
        }
        i++ // closing quote
      } else {
        const token = /^[^,\s]*/.exec(header.slice(i))
        value = token ? token[0] : ''
        i += value.length
      }
      challenge.params[paramMatch[1].toLowerCase()] = value
      skipSpace()
      if (header[i] === ',') {
        i++
        // A comma may separate parameters or challenges; the loop decides by what follows.
        const next = /^\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*=)?/.exec(header.slice(i))
        if (next && !next[1]) break
        continue
      }
      break
    }
  }
  return challenges
}

/** The challenge we act on: Bearer when offered (it scopes access), else Basic. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic')
}
