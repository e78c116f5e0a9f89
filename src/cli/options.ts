// Flag parsers that reject bad values with a message naming the flag and the value.
import { InvalidArgumentError } from 'commander';

export const posInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}"`);
  return n;
};
export const nonNegInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${v}"`);
  return n;
};
export const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\s*-?\d+\s*$/.test(v) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`${name} must be an integer, got "${v}"`);
  return n;
};
export const posNum = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`${name} must be a positive number, got "${v}"`);
  return n;
};
export const nonNegNum = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`${name} must be a non-negative number, got "${v}"`);
  return n;
};
export const oneOf =
  <T extends string>(name: string, values: readonly T[]) =>
  (v: string): T => {
    if (!values.includes(v as T))
      throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}, got "${v}"`);
    return v as T;
  };
export const intList = (name: string) => (v: string) => {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1))
    throw new InvalidArgumentError(`${name} must be a comma-separated list of positive integers, got "${v}"`);
  return parts.map(Number);
};
