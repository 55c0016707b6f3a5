// Placeholder so the target builds; removed once the module has real sources.
