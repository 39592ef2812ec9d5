import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CliIO } from "./io.js";
import { printRows, visible } from "./table.js";

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

function capture(): { io: CliIO; text: () => string } {
  const out: string[] = [];
  const io = { out: (text: string) => out.push(text) } as unknown as CliIO;
  return { io, text: () => out.join("\n") };
}

describe("the CLI's table printer", () => {
  it("shows control characters and bidirectional overrides from outside as escapes", () => {
    const { io, text } = capture();
    printRows(io, [{ subject: "alice\u001b[2J\r\nroot", device: "phone\u202egnp.exe" }], { empty: "none" });
    expect(text()).toBe(
      ["subject                       device", "alice\\u{1b}[2J\\u{d}\\u{a}root  phone\\u{202e}gnp.exe"].join(
        "\n",
      ),
    );
  });

  it("prints one line per row plus the header, whatever the values hold", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary" }), { minLength: 1, maxLength: 5 }), (values) => {
        const { io, text } = capture();
        printRows(
          io,
          values.map((value) => ({ value })),
          { empty: "none" },
        );
        const lines = text().split("\n");
        expect(lines).toHaveLength(values.length + 1);
        for (const line of lines) expect(line).not.toMatch(UNSAFE);
      }),
    );
  });

  it("leaves printable text, including other scripts and emoji, as it is", () => {
    expect(visible("Zoë’s iPhone 😀 — 東京")).toBe("Zoë’s iPhone 😀 — 東京");
  });

  it("keeps --json output exact: JSON escapes what it must", () => {
    const { io, text } = capture();
    printRows(io, [{ subject: "a\u001bb" }], { json: true, empty: "none" });
    expect(JSON.parse(text())).toEqual([{ subject: "a\u001bb" }]);
  });
});
