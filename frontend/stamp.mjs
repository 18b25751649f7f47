// Records what the viewer bundle was built from, after `npm run build`:
// frontend/built.json holds the SHA-256 of every source and of the bundle it gave.
// tests/test_viewer_bundle.py recomputes them, so a source edited without a rebuild, or a
// bundle edited by hand, fails the tests (and CI) with a message that says how to rebuild.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function files(folder) {
  return readdirSync(join(root, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = `${folder}/${entry.name}`;
    return entry.isDirectory() ? files(path) : [path];
  });
}

function digests(paths) {
  const sorted = [...paths].sort();
  return Object.fromEntries(
    sorted.map((path) => [path, createHash("sha256").update(readFileSync(join(root, path))).digest("hex")]),
  );
}

const record = {
  rebuild: "cd frontend && npm ci && npm run build",
  sources: digests([...files("frontend/src"), "frontend/package.json", "frontend/package-lock.json"]),
  bundle: digests(["src/morphospace/report/viewer/viewer.js", "src/morphospace/report/viewer/viewer.js.LEGAL.txt"]),
};
writeFileSync(join(root, "frontend/built.json"), `${JSON.stringify(record, null, 2)}\n`);
console.log(`recorded the sources of the bundle in ${relative(process.cwd(), join(root, "frontend/built.json"))}`);
