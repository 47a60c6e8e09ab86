/** Entry point of the `tsxdp` executable. */
import { main } from "./main";

process.exitCode = main(process.argv.slice(2));
