// Builds the console into ../dist: one bundled, minified ES module and one stylesheet, each named
// by a hash of its content (so they can be cached as immutable), and index.html naming them. The
// output is committed (shared/console embeds it at compile time) and must be reproducible:
// scripts/test runs `npm ci && npm run build` and fails if dist/ changes (ARCHITECTURE.md, "The
// console").
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// `--out DIR` builds elsewhere (scripts/test compares such a build with the committed dist/).
const at = process.argv.indexOf("--out");
const dist = at > 0 && process.argv[at + 1] ? process.argv[at + 1] : join(here, "..", "dist");

const hash = (bytes) => createHash("sha256").update(bytes).digest("hex").slice(0, 16);

const js = await build({
  entryPoints: [join(here, "src", "app.js")],
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2022"],
  legalComments: "none",
  charset: "utf8",
  write: false,
  logLevel: "warning",
});
const css = await build({
  entryPoints: [join(here, "src", "console.css")],
  bundle: true,
  minify: true,
  charset: "utf8",
  write: false,
  logLevel: "warning",
});
const jsBytes = js.outputFiles[0].contents;
const cssBytes = css.outputFiles[0].contents;
const jsName = `app-${hash(jsBytes)}.js`;
const cssName = `console-${hash(cssBytes)}.css`;

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "assets"), { recursive: true });
writeFileSync(join(dist, "assets", jsName), jsBytes);
writeFileSync(join(dist, "assets", cssName), cssBytes);
const index = readFileSync(join(here, "src", "index.html"), "utf8").replace("@JS@", jsName).replace("@CSS@", cssName);
writeFileSync(join(dist, "index.html"), index);
console.log(`console: ${dist}: index.html, assets/${jsName} (${jsBytes.length} bytes), assets/${cssName} (${cssBytes.length} bytes)`);
