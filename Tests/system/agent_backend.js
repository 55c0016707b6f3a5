// An agent backend written for Node, as the agent CLIs of this field are: reads the
// message on stdin, the session's earlier turns from OPENCLAW_SESSION_FILE, and an
// API key from its environment (the gateway's agent.env), and answers on stdout.
// A message containing "slow" makes it take 3 s (so its unit can be seen running).
// "daemonize" leaves a setsid'd child behind, holding nothing of ours: the run's unit must end it.
const fs = require("fs");
const { spawn } = require("child_process");
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => { input += d; });
process.stdin.on("end", () => {
  let daemon = "";
  if (input.includes("daemonize")) {
    const child = spawn("sleep", ["317"], { detached: true, stdio: "ignore" });
    daemon = ` daemon ${child.pid}`;
    child.unref();
  }
  const file = process.env.OPENCLAW_SESSION_FILE;
  const turns = file ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).length : -1;
  // Hot enough for V8 to compile optimized machine code: a JIT needs W+X memory.
  let x = 0;
  for (let i = 0; i < 3e7; i++) x = (x + i * 7) % 1000003;
  const reply = `node ${process.version} says: ${input.trim()} (turns ${turns}, key ${process.env.OPENCLAW_TEST_API_KEY || "none"}, ${x})${daemon}`;
  setTimeout(() => process.stdout.write(reply + "\n"), input.includes("slow") ? 3000 : 0);
});
