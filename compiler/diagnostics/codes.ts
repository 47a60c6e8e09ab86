/**
 * The catalogue of tsxdp diagnostics. Codes are stable: a code, once
 * published, keeps its meaning forever (tools and tests refer to it), so new
 * kinds get new numbers and retired ones are never reused.
 *
 * Ranges: 1xxx unsupported syntax, 2xxx types and values, 4xxx programs and
 * sections, 5xxx verifier rules (packet bounds; 51xx the kernel's own
 * rejections at load time), 9xxx internal errors.
 */

export interface DiagnosticKind {
  readonly code: number;
  readonly title: string;
}

function kind(code: number, title: string): DiagnosticKind {
  return { code, title };
}

export const Codes = {
  // 1xxx: TypeScript that cannot be lowered to BPF
  unsupportedSyntax: kind(1001, "unsupported syntax"),
  unsupportedString: kind(1002, "strings are not supported"),
  unsupportedClosure: kind(1003, "nested functions and closures are not supported"),
  unsupportedAny: kind(1004, "`any` and `unknown` are not supported"),
  unsupportedClass: kind(1005, "classes are not supported"),
  unsupportedException: kind(1006, "exceptions are not supported"),
  unsupportedFloat: kind(1007, "floating point is not supported"),
  unsupportedLoop: kind(1008, "loop not proven to end"),
  unsupportedLiteral: kind(1009, "object and array values are not supported"),
  unsupportedOperator: kind(1010, "unsupported operator"),
  unsupportedVar: kind(1011, "`var` is not supported"),
  unsupportedTopLevel: kind(1012, "unsupported top-level statement"),
  unsupportedImport: kind(1013, "unsupported import"),
  unsupportedNullish: kind(1014, "`null` and `undefined` are not values here"),
  unsupportedCall: kind(1015, "unsupported call"),
  unsupportedReference: kind(1016, "unsupported reference"),
  recursion: kind(1017, "recursion is not supported"),

  // 2xxx: types and values
  untypedNumber: kind(2001, "a width is needed"),
  signMix: kind(2002, "signed and unsigned do not mix"),
  byteOrderMix: kind(2003, "network and host byte order do not mix"),
  constantOverflow: kind(2004, "constant does not fit"),
  operatorType: kind(2005, "operator does not apply to this type"),
  signedDivision: kind(2006, "not in the selected BPF ISA (--mcpu)"),
  shiftRange: kind(2007, "shift amount out of range"),
  divisionByZero: kind(2008, "division by zero"),
  loadType: kind(2009, "packet load needs an explicit scalar type"),
  callArguments: kind(2010, "wrong arguments"),
  typeMismatch: kind(2011, "type mismatch"),
  assignConst: kind(2012, "assignment to a constant"),
  missingReturn: kind(2013, "not every path returns an action"),
  contextUse: kind(2014, "the context can only be read"),
  pointerArithmetic: kind(2015, "unsupported pointer arithmetic"),
  uninitializedStruct: kind(2016, "a local struct needs its value"),

  // 3xxx: maps, helpers, kfuncs
  mapType: kind(3001, "invalid map declaration"),
  mapValueNull: kind(3002, "map value used before its null test"),
  mapOperation: kind(3003, "map operation the kernel refuses"),
  ringBufLeak: kind(3004, "ring buffer record not submitted or discarded"),
  ringBufReleased: kind(3005, "ring buffer record used after submit or discard"),
  socketLeak: kind(3006, "socket from a lookup not released"),
  socketReleased: kind(3007, "socket used after bpf_sk_release"),
  lockLeak: kind(3008, "spin lock not released on every path"),
  lockCall: kind(3009, "call while holding a spin lock"),
  lockOrder: kind(3010, "spin locks not taken and released in pairs"),
  kfuncLeak: kind(3020, "kfunc reference not released"),
  kfuncReleased: kind(3021, "kfunc reference used after its release"),
  dynptrUninit: kind(3022, "dynptr used before it is initialised"),
  rcuSection: kind(3023, "RCU read section not paired on every path"),
  graphLock: kind(3030, "list or tree kfunc without its lock held"),
  graphNonOwning: kind(3031, "node from bpf_rbtree_first used after the unlock"),
  kptrAfterRcu: kind(3032, "object read from a kptr field used after its RCU section"),

  // 4xxx: programs, sections, license
  programShape: kind(4001, "a program is `export const name = xdp((ctx) => { … })`"),
  programPlacement: kind(4002, "program declared outside the top level"),
  licenseArgument: kind(4003, "license takes one string literal, once"),
  noPrograms: kind(4004, "no programs"),
  programName: kind(4005, "invalid program name"),
  duplicateProgram: kind(4006, "duplicate program name"),
  runConfig: kind(4007, "invalid run configuration"),
  subprogram: kind(4008, "invalid BPF-to-BPF function"),
  loopCallback: kind(4009, "invalid bpf_loop callback"),
  gplHelper: kind(4010, "GPL-only helper without a GPL-compatible license"),
  helperNotInXdp: kind(4020, "helper not available to XDP programs"),
  kfuncNotInXdp: kind(4021, "kfunc not available to XDP programs"),

  // 5xxx: rules the kernel verifier enforces, proven at compile time
  packetBounds: kind(5001, "packet access not proven within data_end"),
  metaBounds: kind(5002, "metadata access not proven within data"),
  packetNegative: kind(5003, "packet access before the start of the packet"),
  packetStale: kind(5004, "packet pointer used after the packet moved"),
  packetVariableOffset: kind(5005, "packet offset is not a constant"),
  packetOffsetLimit: kind(5006, "packet offset too large"),
  pointerCompare: kind(5007, "pointer comparison the verifier cannot use"),
  stackLimit: kind(5008, "more than 512 bytes of stack"),
  // 51xx: the kernel's own verdicts, reported at load time against the source
  kernelRejected: kind(5100, "the kernel rejected the program"),

  // 9xxx: the compiler's own failures
  internal: kind(9001, "internal compiler error"),
  llvm: kind(9002, "LLVM failed"),
} as const;

export type CodeName = keyof typeof Codes;

export const codePrefix = "TSX";

export function codeString(code: number): string {
  return `${codePrefix}${code}`;
}
