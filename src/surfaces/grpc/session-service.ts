/**
 * The SessionService handlers: each parses its message, makes one engine call and writes
 * the response; every failure leaves through `serviceError` and its complete status table.
 *
 * Deadlines and cancellation: grpc-js answers DEADLINE_EXCEEDED or CANCELLED by itself;
 * a handler does not start engine work for a call that is already over, and a
 * CreateSession whose caller left while the password was being checked ends the session
 * it made, since nobody holds its tokens. A ReissueSession in the same position keeps its
 * result: a retry within the grace window receives the same tokens.
 */
import type { handleUnaryCall, ServerUnaryCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Tessera } from "../../engine/tessera.js";
import type { ValidatedSession } from "../../engine/types.js";
import { isTesseraError, TesseraError } from "../../errors.js";
import type { SurfaceMetrics } from "../http/metrics.js";
import { bearerToken, peerMetadata, requestMetadata } from "./call-context.js";
import {
  type GetSessionResponse,
  getSessionResponse,
  parseCreateSession,
  parseDestroySession,
  parseGetSession,
  parseReissueSession,
  type SessionTokensResponse,
  tokensResponse,
} from "./messages.js";
import { type GrpcLogger, serviceError } from "./status.js";

export interface SessionServiceOptions {
  readonly tessera: Tessera;
  /** Where internal errors (with their stacks) are reported. @default no logging */
  readonly logger?: GrpcLogger | undefined;
  /** Counts validations and refused logins. @default none */
  readonly metrics?: SurfaceMetrics | null;
}

type Call<Res> = ServerUnaryCall<unknown, Res>;

function cancelled(): TesseraError {
  return new TesseraError("unavailable", "The call was cancelled.");
}

export function sessionServiceHandlers(options: SessionServiceOptions): UntypedServiceImplementation {
  const { tessera, logger } = options;
  const metrics = options.metrics ?? null;

  /** `validate`, counted. */
  async function validate(token: () => string, call: Call<unknown>): Promise<ValidatedSession> {
    try {
      const validated = await tessera.validate(token(), peerMetadata(call));
      metrics?.validated("ok");
      return validated;
    } catch (error) {
      metrics?.validated(isTesseraError(error) ? error.code : "internal_error");
      throw error;
    }
  }

  function unary<Res>(
    method: string,
    work: (call: Call<Res>) => Promise<Res>,
  ): handleUnaryCall<unknown, Res> {
    return (call, callback) => {
      // Over already (deadline passed while queued, or the client gave up): no engine work.
      if (call.cancelled) return;
      work(call).then(
        (response) => callback(null, response),
        (error: unknown) => callback(serviceError(error, { logger, method })),
      );
    };
  }

  const handlers: Record<string, handleUnaryCall<unknown, unknown>> = {
    CreateSession: unary<SessionTokensResponse>("CreateSession", async (call) => {
      const request = parseCreateSession(call.request);
      const pair = await tessera
        .login({
          username: request.username,
          password: request.password,
          deviceId: request.device_uuid,
          tokenType: "session",
          metadata: requestMetadata(call),
        })
        .catch((error: unknown) => {
          metrics?.loginFailed(isTesseraError(error) ? error.code : "internal_error");
          throw error;
        });
      if (call.cancelled) {
        await tessera.logout(pair.sessionId, requestMetadata(call));
        throw cancelled();
      }
      return tokensResponse(pair);
    }),

    ReissueSession: unary<SessionTokensResponse>("ReissueSession", async (call) => {
      const request = parseReissueSession(call.request);
      return tokensResponse(
        await tessera.refresh(request.reissue_token, { metadata: requestMetadata(call) }),
      );
    }),

    DestroySession: unary<Record<string, never>>("DestroySession", async (call) => {
      parseDestroySession(call.request);
      const { session } = await validate(() => bearerToken(call.metadata), call);
      if (call.cancelled) throw cancelled();
      await tessera.logout(session.id, requestMetadata(call));
      return {};
    }),

    // The hot path of other services' requests: for a cached session token, validate
    // resolves from memory and the response object is reused.
    GetSession: unary<GetSessionResponse>("GetSession", async (call) => {
      const request = parseGetSession(call.request);
      const token = () => (request.token === "" ? bearerToken(call.metadata) : request.token);
      return getSessionResponse(await validate(token, call));
    }),
  };
  return handlers;
}
