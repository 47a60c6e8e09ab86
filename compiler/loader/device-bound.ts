/**
 * Programs that read a device's RX metadata (the kfuncs the table marks
 * `deviceBound`) load only bound to that device: the verifier refuses them
 * otherwise ("metadata kfuncs require device-bound program"). The object's
 * undefined symbols tell which kfuncs it calls, so a loader can bind it
 * (`loadObject(…, { deviceBoundIfindex })`) without being told.
 */
import { kfuncs } from "../dialect/kfuncs";
import { readElf } from "../object/elf";

const SHN_UNDEF = 0;

/** The device-bound kfuncs the object calls (none for an object that can load unbound). */
export function deviceBoundKfuncs(object: Uint8Array): string[] {
  let elf;
  try {
    elf = readElf(object);
  } catch {
    // Not an object we can read: the load that follows refuses it with libbpf's own, clearer words.
    return [];
  }
  const called = new Set(elf.symbols.filter((s) => s.sectionIndex === SHN_UNDEF).map((s) => s.name));
  return [...kfuncs.values()].filter((k) => k.deviceBound && called.has(k.name)).map((k) => k.name);
}
