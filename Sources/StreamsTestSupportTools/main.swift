// A child process for crash tests.
//
//   StreamsTestSupportTools crash-writer DIR BATCH
//
// Opens the LMDB window store in DIR and, forever, writes BATCH entries derived from the next
// commit number and commits them with metadata "commit" = that number.
// The parent kills it with SIGKILL at a random moment and checks that the store holds
// exactly the entries of commits 0...last (the metadata's number).
//
//   StreamsTestSupportTools embedded-writer STATE BATCH
//
// Runs the embedded engine's commit protocol on the files of StreamsEmbedded, forever; see
// EmbeddedWriter.swift.
//
//   StreamsTestSupportTools store-holder DIR
//
// Opens the LMDB window store in DIR, prints "open" (or the error) and holds it until killed.
import StreamsState
import StreamsStateLMDB

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments
if arguments.count == 4, arguments[1] == "embedded-writer", let batch = Int(arguments[3]) {
    do {
        try EmbeddedWriter.run(state: arguments[2], batch: batch)
    } catch {
        print("embedded-writer: \(error)")
        exit(1)
    }
}
if arguments.count == 3, arguments[1] == "store-holder" {
    do {
        let store = try LMDBWindowStore(
            directory: arguments[2], configuration: WindowStoreConfiguration(name: "holder", retention: .seconds(60)))
        withExtendedLifetime(store) {
            _ = write(1, "open\n", 5)
            while true { sleep(60) }
        }
    } catch {
        print("store-holder: \(error)")
        exit(1)
    }
}
guard arguments.count == 4, arguments[1] == "crash-writer", let batch = Int(arguments[3]) else {
    print(
        "usage: StreamsTestSupportTools crash-writer DIR BATCH | embedded-writer STATE BATCH | store-holder DIR")
    exit(64)
}

/// The configuration the crash test uses: a retention long enough that nothing expires.
let configuration = WindowStoreConfiguration(name: "crash", retention: .seconds(1_000_000_000))

do {
    let store = try LMDBWindowStore(directory: arguments[2], configuration: configuration)
    var next =
        (try store.metadata(forKey: "commit")).flatMap { Int(String(decoding: $0, as: UTF8.self)) }.map { $0 + 1 } ?? 0
    while true {
        for i in 0..<batch {
            let key = Array("k\(next)-\(i)".utf8)
            try store.put(key: key, timestampMs: Int64(next * batch + i), value: Array("v\(next)".utf8))
        }
        try store.commit(metadata: ["commit": Array(String(next).utf8)])
        next += 1
    }
} catch {
    print("crash-writer: \(error)")
    exit(1)
}
