/** JSON with two-space indent and a final newline; key order is the model's construction order. */
export function stableJSON(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}
