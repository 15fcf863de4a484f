export { Code } from '../errors/index.js';
export { StatusError, errdefs } from '../errors/index.js';
export type { Metadata, MetadataInit } from './metadata.js';
export type { CallContext, MethodDef, ServiceDef } from './service.js';
export { TtrpcServer, type ServerOptions } from './server.js';
export { TtrpcClient, type CallOptions } from './client.js';
export {
  FrameDecoder,
  encodeFrame,
  oversizeMessage,
  MAX_MESSAGE,
  HEADER_LENGTH,
  MessageType,
  Flag,
  type DecodedItem,
  type Frame,
  type FrameHeader,
  type OversizeFrame,
} from './frame-codec.js';
