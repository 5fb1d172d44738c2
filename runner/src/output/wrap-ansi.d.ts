// wrap-ansi 7 (CommonJS, the last major before ESM only) ships no types; what the runner uses of it.
declare module "wrap-ansi" {
  interface Options {
    /** Break words longer than the width (a long path) instead of letting them overflow. */
    hard?: boolean;
    wordWrap?: boolean;
    trim?: boolean;
  }
  export default function wrapAnsi(input: string, columns: number, options?: Options): string;
}
