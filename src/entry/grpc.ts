/**
 * `tessera/grpc`: the gRPC SessionService (`@grpc/grpc-js`), for applications that embed
 * it; the package root does not load gRPC.
 */
export {
  protoPath as grpcProtoPath,
  SERVICE_NAME as GRPC_SERVICE_NAME,
} from "../surfaces/grpc/definition.js";
export {
  type GrpcServerHandle,
  type GrpcServerOptions,
  type GrpcTlsOptions,
  startGrpcServer,
} from "../surfaces/grpc/server.js";
export {
  ERROR_CODE_KEY as GRPC_ERROR_CODE_KEY,
  GRPC_STATUS,
  type GrpcLogger,
} from "../surfaces/grpc/status.js";
