// The TypeScript face of the Linux calls Node lacks. The native addon behind it is an
// implementation detail: import from here, never from ./native.
export { Reaper, setChildSubreaper } from './reaper.js';
export type { ExitInfo } from './reaper.js';
export { bytesQueued, createPipe } from './pipes.js';
export { getPeerCred } from './peer-cred.js';
export { recvFd, setWinsize, openPtyStream } from './console.js';
export { mount, unmount, mountAll, unmountRecursive, parseMountOptions } from './mount.js';
export type { MountSpec, ParsedOptions } from './mount.js';
export { eventfd, watchEventfd } from './eventfd.js';
export type { EventfdWatch } from './eventfd.js';
export { spawnChild } from './spawn.js';
export { spliceCopy } from './splice.js';
export type { SpliceCopy } from './splice.js';
export type { ChildExit, ChildStdio, ChildStdioSet, SpawnedChild } from './spawn.js';
export { collectGarbage, keepBytecode, trimMalloc } from './memory.js';
