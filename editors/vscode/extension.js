// The VS Code client of `aigw-policy lsp`: it starts the server over stdio and hands it the
// .aigw files and the YAML/JSON files named by `aigwPolicy.policyFiles`.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("aigwPolicy");
  const [command, ...args] = config.get("command", ["aigw-policy", "lsp"]);
  const patterns = config.get("policyFiles", []);
  const documentSelector = [
    { scheme: "file", language: "aigw" },
    { scheme: "untitled", language: "aigw" },
    ...patterns.flatMap((pattern) => [
      { scheme: "file", language: "yaml", pattern },
      { scheme: "file", language: "json", pattern },
    ]),
  ];
  client = new LanguageClient(
    "aigwPolicy",
    "aigw-policy",
    { command, args, transport: TransportKind.stdio },
    { documentSelector, outputChannelName: "aigw-policy" },
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("aigwPolicy")) {
        vscode.window.showInformationMessage("aigw-policy: reload the window to apply the new settings.");
      }
    }),
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
