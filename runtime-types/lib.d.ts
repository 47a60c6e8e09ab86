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
interface SymbolConstructor { readonly unique: symbol; readonly iterator: unique symbol }
// `for (const t of bpf_iter_task(…))`: the kernel iterator is typed as an Iterable.
declare var Symbol: SymbolConstructor;
interface TemplateStringsArray extends ReadonlyArray<string> { readonly raw: readonly string[] }
interface BigInt {}

// Types the checker asks for only when a program uses a construct tsxdp
// refuses anyway (async, generators, iteration, `using`, decorators,
// import.meta). Without them TypeScript's complaint has no location
// ("Cannot find global type 'Promise'"); with them the checker goes on and
// the construct itself is reported where it is written. Arities are the
// checker's (getGlobalType).
interface Promise<T> {}
interface PromiseLike<T> {}
interface PromiseConstructorLike {}
interface Iterable<T, TReturn = any, TNext = any> { [Symbol.iterator](): Iterator<T, TReturn, TNext> }
interface Iterator<T, TReturn = any, TNext = any> { next(...args: [] | [TNext]): IteratorYieldResult<T> | IteratorReturnResult<TReturn> }
interface IterableIterator<T, TReturn = any, TNext = any> {}
interface IteratorObject<T, TReturn = unknown, TNext = unknown> {}
interface Generator<T = unknown, TReturn = any, TNext = any> {}
interface IteratorYieldResult<TYield> { done?: false; value: TYield }
interface IteratorReturnResult<TReturn> { done: true; value: TReturn }
interface AsyncIterable<T, TReturn = any, TNext = any> {}
interface AsyncIterator<T, TReturn = any, TNext = any> {}
interface AsyncIterableIterator<T, TReturn = any, TNext = any> {}
interface AsyncIteratorObject<T, TReturn = unknown, TNext = unknown> {}
interface AsyncGenerator<T = unknown, TReturn = any, TNext = any> {}
interface Disposable {}
interface AsyncDisposable {}
interface ImportMeta {}
interface ImportCallOptions {}
interface ImportAttributes {}
interface TypedPropertyDescriptor<T> {}
interface ClassDecoratorContext<Class = unknown> {}
interface ClassMethodDecoratorContext<This = unknown, Value = unknown> {}
interface ClassGetterDecoratorContext<This = unknown, Value = unknown> {}
interface ClassSetterDecoratorContext<This = unknown, Value = unknown> {}
interface ClassAccessorDecoratorContext<This = unknown, Value = unknown> {}
interface ClassAccessorDecoratorTarget<This, Value> {}
interface ClassAccessorDecoratorResult<This, Value> {}
interface ClassFieldDecoratorContext<This = unknown, Value = unknown> {}
