// preview2-shim 0.26 starts with no preopens, so `jco types` (wasm-tools run
// by jco under that shim) cannot read the WIT: give it the host filesystem.
import { _setPreopens } from "@bytecodealliance/preview2-shim/filesystem";
_setPreopens({ "/": "/" });
