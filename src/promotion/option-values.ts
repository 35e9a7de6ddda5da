// Booleans and whole numbers, read with the same words in every front.
import { InputError, type Read } from './options.js'
import { printable } from '../registry/index.js'

export function parseBoolean(read: Read, name: string, fallback: boolean): boolean {
  const raw = read(name).trim().toLowerCase()
  if (raw === '') return fallback
  if (raw === 'true') return true
  if (raw === 'false') return false
  throw new InputError(name, `is "${printable(raw)}"; allowed: true, false`)
}

export function parseInteger(read: Read, name: string, fallback: number, min: number, max: number): number {
  const raw = read(name).trim()
  if (raw === '') return fallback
  if (!/^\d+$/.test(raw))
    throw new InputError(name, `is "${printable(raw)}"; it must be a whole number from ${min} to ${max}`)
  const value = Number(raw)
  if (value < min || value > max) throw new InputError(name, `is ${raw}; it must be from ${min} to ${max}`)
  return value
}
