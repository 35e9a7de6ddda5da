// The registry client logs through this interface so that it works in an action, a CLI or a test.

export interface Logger {
  debug(message: string): void
  info(message: string): void
  warning(message: string): void
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warning: () => undefined
}

/** Drops userinfo and query strings (presigned S3 URLs carry credentials there). */
export function redactUrl(url: string | URL): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search ? '?<redacted>' : ''}`
  } catch {
    return '<unparseable URL>'
  }
}
