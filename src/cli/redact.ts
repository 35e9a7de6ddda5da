// The command line's own masking (the runner's ::add-mask:: does not exist here): every secret the
// run learns, plain and base64 (alone or as `user:secret`), becomes *** before anything is written.

export interface Redactor {
  add(secret: string): void
  text(value: string): string
}

const USERS = ['AWS', 'oauth2accesstoken']

export function createRedactor(): Redactor {
  const secrets = new Set<string>()
  const forms = (secret: string): string[] => [
    secret,
    Buffer.from(secret).toString('base64'),
    ...USERS.map((user) => Buffer.from(`${user}:${secret}`).toString('base64'))
  ]
  return {
    add(secret) {
      // Very short values would blank ordinary words; no real credential is that short.
      if (secret.length >= 4) for (const form of forms(secret)) secrets.add(form)
    },
    text(value) {
      let out = value
      // Longest first, so that a secret inside a longer one does not leave part of the longer.
      for (const secret of [...secrets].sort((a, b) => b.length - a.length))
        out = out.split(secret).join('***')
      return out
    }
  }
}
