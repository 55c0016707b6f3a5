/// Entry point of the `openclaw` executable. Returns the process exit code.
public enum CLI {
    public static func run(_ arguments: [String]) -> Int32 {
        print("openclaw: not implemented yet")
        return 1
    }
}
