// `npm test`: the build when stale, then the type check of the tests, eslint, prettier and mocha
// side by side. Mocha mostly waits on daemons and pack processes, so the CPU-bound checks run in
// its idle time instead of before it. Mocha's output streams; each check's output is printed when
// it ends. Every step leads its own process group, killed on any way out, so nothing outlives it.
"use strict";
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);

const DEPLOY_BUILD_INFO = "node_modules/.cache/tsc/deploy.tsbuildinfo";
/**
 * The checks beside mocha, each with its cache in node_modules/.cache (type checks incremental,
 * lint and format skip unchanged files). `tsconfig.tests.json` checks what the build did not (tests,
 * bench).
 */
const CHECKS = [
  ["types", bin("tsc"), ["--noEmit", "-p", "tsconfig.tests.json"]],
  [
    "types (deploy)",
    bin("tsc"),
    ["--noEmit", "-p", "deploy", "--incremental", "--tsBuildInfoFile", DEPLOY_BUILD_INFO],
  ],
  ["lint", bin("eslint"), ["--cache", "--cache-location", "node_modules/.cache/eslint/", "."]],
  ["format", bin("prettier"), ["--check", "--cache", "."]],
];
/**
 * Mocha hands files to its workers in the order given, so a long file given late finishes last
 * alone. The generative corpus (10 to 15 s of pack work a half, 2026-12-04) is handed out first;
 * the rest in path order. The rehearsal's tests are `npm run test:rehearsal`.
 */
const LONG_FIRST = ["tests/policy/generative.test.ts", "tests/policy/generative-2.test.ts"];
function testFiles() {
  const all = fs
    .readdirSync(path.join(root, "tests"), { recursive: true })
    .map((f) => path.posix.join("tests", f.split(path.sep).join("/")))
    .filter((f) => f.endsWith(".test.ts") && !f.startsWith("tests/rehearse/"))
    .sort();
  return [
    ...LONG_FIRST.filter((f) => all.includes(f)),
    ...all.filter((f) => !LONG_FIRST.includes(f)),
  ];
}
const MOCHA = ["mocha", bin("mocha"), ["--parallel", "--jobs", "4", ...testFiles()]];

const running = new Set();
function killAll() {
  for (const child of running) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // its group is gone already
    }
  }
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Runs one step in its own group; resolves to its name, status, seconds and buffered output. */
function run([name, command, args], stream) {
  const started = Date.now();
  const child = spawn(command, args, {
    cwd: root,
    detached: true,
    stdio: ["ignore", stream ? "inherit" : "pipe", stream ? "inherit" : "pipe"],
  });
  running.add(child);
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      running.delete(child);
      const seconds = (Date.now() - started) / 1000;
      if (!stream && (code !== 0 || output.trim() !== "")) {
        process.stdout.write(`\n--- ${name} (exit ${code ?? signal}) ---\n${output}`);
      }
      resolve({ name, ok: code === 0, seconds });
    });
  });
}

async function main() {
  const started = Date.now();
  const build = spawnSync(process.execPath, [path.join(__dirname, "build-if-stale.js")], {
    cwd: root,
    stdio: "inherit",
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
  const steps = await Promise.all([run(MOCHA, true), ...CHECKS.map((c) => run(c, false))]);
  console.log("\nstep             exit  wall");
  for (const s of steps) {
    console.log(`${s.name.padEnd(16)} ${s.ok ? "ok  " : "FAIL"} ${s.seconds.toFixed(1)} s`);
  }
  console.log(`npm test: ${((Date.now() - started) / 1000).toFixed(1)} s wall`);
  process.exitCode = steps.every((s) => s.ok) ? 0 : 1;
}

void main();
