// Builds the playground into dist/, which the gateway embeds at compile time
// (gateway/build.rs) and serves at /playground.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/playground/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, assetsInlineLimit: 0 },
});
