import Glibc
import OpenClawCLI

exit(CLI.run(Array(CommandLine.arguments.dropFirst())))
