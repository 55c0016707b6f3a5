import Gateway
import JSONCore
import OpenClawConfig
import GatewayProtocol

/// Entry point of the `openclaw` executable. Returns the process exit code.
public enum CLI {
    /// Exit codes shared by every command (README, docs/status-json.md, openclaw(1)); `gateway status`
    /// uses the same numbers for its states, plus 4 and 5.
    public enum Exit {
        public static let ok: Int32 = 0
        public static let failure: Int32 = 1
        public static let usage: Int32 = 2
        /// The profile's unit is not installed (as `gateway status` says it).
        public static let notInstalled: Int32 = 3
        /// Another gateway answers on the unit's address (as `gateway status` says it).
        public static let otherGateway: Int32 = 6
        /// The gateway is up but refuses the secret we presented.
        public static let authRefused: Int32 = 7
    }

    public static func run(_ arguments: [String]) -> Int32 {
        run(arguments, environment: ProcessEnvironment.current())
    }

    public static func run(_ arguments: [String], environment: [String: String]) -> Int32 {
        let terminal = Terminal(environment: environment)
        let invocation: Invocation
        do {
            invocation = try Invocation.parse(arguments)
        } catch {
            terminal.error(error.description)
            return Exit.usage
        }
        do {
            return try execute(invocation, terminal: terminal, environment: environment)
        } catch {
            terminal.error(error.message)
            return error.exitCode
        }
    }

    private static func execute(_ invocation: Invocation, terminal: Terminal, environment: [String: String])
        throws(CommandFailure) -> Int32
    {
        let rpc = GatewayCommands(terminal: terminal, environment: environment, profile: invocation.profile)
        let services = ServiceCommands(terminal: terminal, environment: environment, profile: invocation.profile)
        switch invocation.action {
        case .help(let text):
            terminal.line(text)
            return Exit.ok
        case .version(let json):
            if json {
                let doc: JSONValue = [
                    "version": .string(BuildInfo.version), "commit": .string(BuildInfo.commit),
                    "buildDate": .string(BuildInfo.buildDate),
                ]
                terminal.line(doc.prettyPrinted())
            } else {
                terminal.line("openclaw \(BuildInfo.version)")
            }
            return Exit.ok
        case .completion(let shell):
            terminal.write(Completion.script(for: shell) ?? "")
            return Exit.ok
        case .manual:
            terminal.write(Manual.render())
            return Exit.ok
        case .runGateway(let port, let bind, let verbose):
            return GatewayDaemon.run(
                options: GatewayOptions(profile: invocation.profile, port: port, bind: bind, verbose: verbose),
                environment: environment)
        case .install(let request): return try services.install(request)
        case .service(let verb, let system, let json): return try services.run(verb, system: system, json: json)
        case .uninstall(let system, let purge, let json):
            return try services.uninstall(system: system, purge: purge, json: json)
        case .rotateToken(let system): return try services.rotateToken(system: system)
        case .status(let request): return try services.status(request)
        case .doctor(let request): return try services.doctor(request)
        case .health(let target, let json): return try rpc.health(target, json: json)
        case .call(let target, let request): return try rpc.call(target, request)
        case .logs(let target, let request): return try rpc.logs(target, request)
        case .send(let target, let request): return try rpc.send(target, request)
        case .agent(let target, let request): return try rpc.agent(target, request)
        case .sessions(let target, let request): return try rpc.sessions(target, request)
        }
    }
}
