/// The pruner allocates and frees large per-block buffers; glibc's adaptive mmap threshold would
/// keep each freed one in the heap and the resident size would climb block by block. Called by
/// every command that runs a pruner (prune, quantize --fit) before it starts.
func returnLargeBuffersToTheSystem() {
    _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 20)
}

/// Gives the heap's free pages back to the system. A load that converts or prunes frees far more
/// than it keeps; what the heap holds free still counts in a server's resident size for as long
/// as it runs.
func returnFreedMemoryToTheSystem() {
    _ = glibcMallocTrim(0)
}

/// glibc's mallopt(3) and malloc_trim(3); <malloc.h> is not part of Swift's Glibc module.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
