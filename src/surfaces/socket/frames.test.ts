import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TesseraError } from "../../errors.js";
import { parseClientFrame, serialiseFrame } from "./frames.js";

function codeOfParse(text: string): string {
  try {
    parseClientFrame(text);
    return "ok";
  } catch (error) {
    if (!(error instanceof TesseraError)) return `untyped: ${String(error)}`;
    return error.code;
  }
}

const validFrames = fc.oneof(
  fc.record({ type: fc.constant("auth"), token: fc.string({ minLength: 1, maxLength: 50 }) }),
  fc.record({ type: fc.constant("auth"), refreshToken: fc.string({ minLength: 1, maxLength: 50 }) }),
  fc.record({ type: fc.constant("refresh"), refreshToken: fc.string({ minLength: 1, maxLength: 50 }) }),
  fc.record({ type: fc.constant("ping") }),
  fc.record({
    type: fc.constant("message"),
    gate: fc.string({ minLength: 1, maxLength: 20 }),
    id: fc.string({ minLength: 1, maxLength: 20 }),
    data: fc.jsonValue(),
  }),
);

describe("parseClientFrame", () => {
  it("parses each frame of the protocol table", () => {
    expect(parseClientFrame('{"type":"auth","token":"tss_a"}')).toEqual({ type: "auth", token: "tss_a" });
    expect(parseClientFrame('{"type":"auth","refreshToken":"tsr_a"}')).toEqual({
      type: "auth",
      refreshToken: "tsr_a",
    });
    expect(parseClientFrame('{"type":"refresh","refreshToken":"tsr_a"}')).toEqual({
      type: "refresh",
      refreshToken: "tsr_a",
    });
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ type: "ping" });
    expect(parseClientFrame('{"type":"message","gate":"g","id":"1","data":[1]}')).toEqual({
      type: "message",
      gate: "g",
      id: "1",
      data: [1],
    });
  });

  it("takes a whole-number message id as well as a string, and an empty token as a token", () => {
    expect(parseClientFrame('{"type":"message","gate":"g","id":42}')).toMatchObject({ id: 42 });
    expect(parseClientFrame('{"type":"auth","token":""}')).toEqual({ type: "auth", token: "" });
  });

  it("reads a message without data as data null and ignores unknown fields", () => {
    expect(parseClientFrame('{"type":"message","gate":"g","id":"1","extra":true}')).toEqual({
      type: "message",
      gate: "g",
      id: "1",
      data: null,
    });
  });

  it.each([
    ["not JSON", "{", "not valid JSON"],
    ["an array", "[1]", "JSON object"],
    ["null", "null", "JSON object"],
    ["no type", "{}", '"type"'],
    ["an unknown type", '{"type":"hello"}', "unknown frame type"],
    ["auth with both credentials", '{"type":"auth","token":"a","refreshToken":"b"}', "exactly one"],
    ["auth with neither", '{"type":"auth"}', "exactly one"],
    ["auth with a numeric token", '{"type":"auth","token":5}', '"token" must be'],
    ["refresh without a token", '{"type":"refresh"}', '"refreshToken" must be'],
    ["a message without a gate", '{"type":"message","id":"1"}', '"gate"'],
    ["a message with a fractional id", '{"type":"message","gate":"g","id":1.5}', '"id" must be'],
    ["a message with a boolean id", '{"type":"message","gate":"g","id":true}', '"id" must be'],
    ["a message with a huge id", `{"type":"message","gate":"g","id":"${"x".repeat(200)}"}`, '"id" is longer'],
    ["a huge token", `{"type":"auth","token":"${"x".repeat(9000)}"}`, "too long"],
  ])("refuses %s with invalid_request saying why", (_name, text, why) => {
    try {
      parseClientFrame(text);
      expect.unreachable("the frame was accepted");
    } catch (error) {
      expect(error).toBeInstanceOf(TesseraError);
      expect((error as TesseraError).code).toBe("invalid_request");
      expect((error as TesseraError).message).toContain(why);
    }
  });

  it("never puts a token's value in its error message", () => {
    const secret = "tss_SECRETVALUE";
    try {
      parseClientFrame(JSON.stringify({ type: "auth", token: secret, refreshToken: secret }));
      expect.unreachable("the frame was accepted");
    } catch (error) {
      expect((error as Error).message).not.toContain("SECRETVALUE");
    }
  });

  it("random text never throws anything but invalid_request", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        expect(["ok", "invalid_request"]).toContain(codeOfParse(text));
      }),
      { numRuns: 2000 },
    );
  });

  it("random JSON values never throw anything but invalid_request", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(["ok", "invalid_request"]).toContain(codeOfParse(JSON.stringify(value)));
      }),
      { numRuns: 2000 },
    );
  });

  it("valid frames parse, and mutated ones (a field dropped, retyped or the text cut) fail only as invalid_request", () => {
    fc.assert(
      fc.property(
        validFrames,
        fc.nat(),
        fc.jsonValue(),
        fc.nat({ max: 300 }),
        (frame, pick, replacement, cut) => {
          const text = JSON.stringify(frame);
          expect(codeOfParse(text)).toBe("ok");
          const keys = Object.keys(frame);
          const key = keys[pick % keys.length] ?? "type";
          const dropped = { ...frame } as Record<string, unknown>;
          delete dropped[key];
          const retyped = { ...frame, [key]: replacement };
          for (const mutated of [JSON.stringify(dropped), JSON.stringify(retyped), text.slice(0, cut)]) {
            expect(["ok", "invalid_request"]).toContain(codeOfParse(mutated));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("a parsed message round-trips its data exactly", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (data) => {
        const parsed = parseClientFrame(JSON.stringify({ type: "message", gate: "g", id: "i", data }));
        expect(parsed).toEqual({
          type: "message",
          gate: "g",
          id: "i",
          data: JSON.parse(JSON.stringify(data ?? null)),
        });
      }),
    );
  });
});

describe("serialiseFrame", () => {
  it("writes server frames as JSON objects", () => {
    expect(JSON.parse(serialiseFrame({ type: "reply", id: "1", data: { a: 1 } }))).toEqual({
      type: "reply",
      id: "1",
      data: { a: 1 },
    });
    expect(serialiseFrame({ type: "pong" })).toBe('{"type":"pong"}');
  });
});
