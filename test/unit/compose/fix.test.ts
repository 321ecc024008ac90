import { describe, expect, it } from "vitest";
import { isPlaceholder } from "../../../src/compose/fix.js";

describe("isPlaceholder", () => {
  it.each([
    "changeme",
    "change_me",
    "changeme123",
    "changeit",
    "ChangeIt",
    "change-this-password",
    "replace_me",
    "fill-me-in",
    "enter-your-password",
    "your-api-key-here",
    "your_token",
    "yourUser",
    "YourPassword",
    "your@email.com",
    "your-domain.dyndns.com",
    "yourdomain.com",
    "api_key_here",
    "xxx",
    "XXXXXXXX",
    "***",
    "<secret>",
    "TODO",
    "placeholder-token",
    "secret",
    "password",
    "admin@example.com",
    "https://app.example.org",
    "smtp.mail.invalid",
  ])("reports %s", (value) => {
    expect(isPlaceholder(value)).toBe(true);
  });

  it.each([
    "jane.doe@gmail.com",
    "ops@acme.io",
    "yourself",
    "yours",
    "exchange-rate-api",
    "changelog",
    "interchange_2024",
    "settings.production",
    "setup",
    "3f9a0c1d8e7b6a5f4e3d2c1b0a9f8e7d",
    "postgres",
    "https://api.example-service.io",
    "examples.com",
    "todos-app",
    "secret-manager.internal",
    "here",
    "Kx9vYour2",
  ])("does not report %s", (value) => {
    expect(isPlaceholder(value)).toBe(false);
  });
});
