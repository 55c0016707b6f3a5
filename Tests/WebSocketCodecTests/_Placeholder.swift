// Placeholder; removed once real tests exist.
