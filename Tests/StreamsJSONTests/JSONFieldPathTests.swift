import StreamsJSON
import Testing

@Suite("JSONFieldPath")
struct JSONFieldPathTests {
    @Test(
        "splits on dots and keeps the dotted form",
        arguments: [
            ("customer", ["customer"]),
            ("order.id", ["order", "id"]),
            ("a.b.c", ["a", "b", "c"]),
            ("café.😀", ["café", "😀"]),
        ])
    func splits(path: String, components: [String]) throws {
        let parsed = try JSONFieldPath(path)
        #expect(parsed.components == components)
        #expect(parsed.description == path)
    }

    @Test("rejects empty paths and empty components", arguments: ["", ".", "a..b", ".a", "a.", "a.b."])
    func rejectsEmptyComponents(path: String) {
        #expect {
            _ = try JSONFieldPath(path)
        } throws: { error in
            (error as? JSONFieldError)?.code == .invalidPath
        }
    }

    @Test("the error message names the path and the empty position")
    func messageNamesProblem() {
        do {
            _ = try JSONFieldPath("order..id")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("'order..id'"))
            #expect(error.message.contains("position 2"))
            #expect(error.offset == nil)
        }
    }
}
