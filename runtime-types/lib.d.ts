/**
 * The global types the compiler's TypeScript pass needs and nothing more:
 * programs are checked without the DOM or ES library, so an accidental use
 * of `Math`, `console` or `Array` is caught as an unknown name.
 */
interface Array<T> { readonly length: number; [n: number]: T }
interface ReadonlyArray<T> { readonly length: number; readonly [n: number]: T }
interface Boolean {}
interface Function {}
interface CallableFunction extends Function {}
interface NewableFunction extends Function {}
interface IArguments {}
interface Number {}
interface Object {}
interface RegExp {}
interface String {}
interface Symbol {}
interface SymbolConstructor { readonly unique: symbol }
interface TemplateStringsArray extends ReadonlyArray<string> { readonly raw: readonly string[] }
interface BigInt {}
