// The cold-start baseline of `npm run bench`: a handler that does nothing, built with the same esbuild
// settings as the functions, so "instructions over an empty handler" is what a bundle adds to node.
/** Answers every invocation with an empty object. */
export async function handler(): Promise<unknown> {
  return {};
}
