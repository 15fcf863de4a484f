// The domain's error type and gRPC codes. The lowest layer: every other layer, the transport
// included, imports it; it imports nothing of the project.
export { Code } from './codes.js';
export { StatusError, errdefs, errorText, wrapUnknown } from './status-error.js';
