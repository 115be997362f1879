// What every script shares on its command line: `--help`, one-line usage errors (exit 2), and one-line
// failures (exit 1). Options are declared once, with their help text, and parsed by node's util.parseArgs.
//
// Exit codes: 0 done, 1 the work failed (the line says what to do), 2 the command line is wrong.
import { parseArgs } from "node:util";

/** A failure the script expected and can explain in one line (what happened, what to do). */
export class ScriptError extends Error {
  name = "ScriptError";
}

/**
 * Parses `argv` against `spec.options` ({ name: { type, short?, default?, value?, multiple?, description } }),
 * or exits: 0 after printing the help (`-h`, `--help`), 2 after a one-line usage error and a hint.
 * With `spec.positionals` ([{ name, description }]), exactly those arguments are expected, in that order.
 * Answers `{ values, positionals, usage }`; `usage(message)` reports a bad value the same way and exits 2.
 */
export function parseCli(spec, argv = process.argv.slice(2)) {
  const options = { ...spec.options, help: { type: "boolean", short: "h", description: "show this help" } };
  const helpCommand = spec.helpCommand ?? `${spec.command} -- --help`;
  const usage = (message) => {
    console.error(`${spec.name}: ${message}`);
    console.error(`Run \`${helpCommand}\` for the options.`);
    process.exit(2);
  };
  // A lenient pass first, to find --help anywhere and to word every mistake as one short line.
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === "option" && t.name === "help")) {
    console.log(helpText(spec, options));
    process.exit(0);
  }
  const expected = spec.positionals ?? [];
  const positionals = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      if (positionals.length >= expected.length) usage(`unexpected argument '${token.value}'`);
      positionals.push(token.value);
    }
    if (token.kind !== "option") continue;
    const option = options[token.name];
    if (option === undefined) usage(`unknown option '${token.rawName}'`);
    if (option.type === "string") {
      // "--items --chunk-size 5": an option is not a value (no option of ours takes one starting with "-").
      const value = token.value;
      if (value === undefined || (!token.inlineValue && value.startsWith("-"))) {
        usage(`option '${token.rawName}' needs a value (${token.rawName} ${option.value ?? "VALUE"})`);
      }
    } else if (token.inlineValue) {
      usage(`option '${token.rawName}' takes no value`);
    }
  }
  if (positionals.length < expected.length) {
    const missing = expected.slice(positionals.length).map((p) => `<${p.name}>`);
    usage(`missing ${missing.join(" ")}`);
  }
  try {
    const parsed = parseArgs({
      args: argv,
      options: parserOptions(options),
      strict: true,
      allowPositionals: expected.length > 0,
    });
    return { values: parsed.values, positionals, usage };
  } catch (e) {
    // Not expected after the checks above; still a usage error, in parseArgs' words.
    return usage(oneLine(e instanceof Error ? e.message : String(e)));
  }
}

function parserOptions(options) {
  return Object.fromEntries(
    Object.entries(options).map(([name, o]) => [
      name,
      {
        type: o.type,
        ...(o.short ? { short: o.short } : {}),
        ...(o.multiple ? { multiple: true } : {}),
        ...(o.default !== undefined ? { default: o.default } : {}),
      },
    ]),
  );
}

function helpText(spec, options) {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
    const fallback = o.default !== undefined && o.type === "string" ? `default: ${o.default}` : "";
    return { flag, text: o.description, fallback };
  });
  const args = (spec.positionals ?? []).map((p) => ({
    flag: `<${p.name}>`,
    text: p.description,
    fallback: "",
  }));
  const width = Math.max(...[...rows, ...args].map((r) => r.flag.length)) + 2;
  const table = (entries) =>
    entries.flatMap(({ flag, text, fallback }) =>
      wrap(fallback ? `${text} (${fallback})` : text, 100 - width - 2).map(
        (part, i) => `  ${(i === 0 ? flag : "").padEnd(width)}${part}`,
      ),
    );
  return [
    `Usage: ${spec.usage ?? `${spec.command} -- [options]`}`,
    "",
    spec.summary,
    ...(args.length > 0 ? ["", "Arguments:", ...table(args)] : []),
    "",
    "Options:",
    ...table(rows),
    ...(spec.epilog ? ["", spec.epilog] : []),
  ].join("\n");
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text, width) {
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

/** An integer option in [min, max], or a usage error. */
export function intOption(usage, name, raw, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const text = String(raw).replace(/_/g, "");
  const n = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `between ${min} and ${max}`;
    usage(`--${name} must be an integer ${range}, not '${raw}'`);
  }
  return n;
}

/**
 * Runs a script's `main`, turning a failure into one line and exit code 1. An expected failure
 * (ScriptError, or a plain Error thrown on purpose by the project's client) shows its message; anything
 * else is a bug and shows its stack, which points at the project's sources (see load-ts.mjs).
 */
export async function runMain(name, main) {
  try {
    const code = await main();
    process.exit(code ?? 0);
  } catch (e) {
    if (e instanceof ScriptError || (e instanceof Error && e.constructor === Error)) {
      console.error(`${name}: ${oneLine(e.message)}`);
    } else {
      console.error(`${name}: unexpected error (a bug in ${name}; please report it with this trace):`);
      console.error(e instanceof Error ? e.stack : e);
    }
    process.exit(1);
  }
}

/** Collapses whitespace and newlines, and keeps a line readable. */
export function oneLine(text, max = 500) {
  const flat = String(text).replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
