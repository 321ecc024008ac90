import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "compose/", "test/fixtures/", "bench/results/"] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", fetch: "readonly" } },
    rules: {
      "@typescript-eslint/no-non-null-assertion": "error",
      "no-template-curly-in-string": "off",
      eqeqeq: "error",
    },
  },
  {
    // The waiting page's client: a plain script run by the visitor's browser, with no build step.
    files: ["src/proxy/pages/**/*.js"],
    languageOptions: {
      sourceType: "script",
      globals: {
        window: "readonly",
        document: "readonly",
        location: "readonly",
        EventSource: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        setTimeout: "readonly",
        matchMedia: "readonly",
      },
    },
  },
);
