export { containerd, google, io, runtimeoptions, ttrpc } from './gen/proto.js';
export { packAny, anyTypeName, TypeUrls, type AnyMsg } from './any.js';
export { ZERO_TIME, toTimestamp, fromTimestamp } from './timestamp.js';
