// Allow-list pickle interpreter (opcode semantics from CPython's Lib/pickletools.py docs).
// Objects live in an arena owned by the interpreter and refer to each other by raw pointer,
// so self-referencing structures a hostile pickle can build are harmless (no refcount cycles,
// no recursive destruction). The stack, memo and arena grow by at most one item per input
// byte, so memory is bounded by the pickle's size.
#include "pickle.h"

#include <cstring>
#include <map>
#include <memory>
#include <string_view>

#include <mistral/byte_reader.h>
#include <mistral/error.h>
#include <mistral/utf8.h>

namespace mistral::convert {

namespace {

enum class Global {
    kOrderedDict,
    kRebuildTensorV2,
    kRebuildParameter,
    kFloatStorage,
    kHalfStorage,
    kBFloat16Storage
};

struct AllowedGlobal {
    std::string_view module, name;
    Global id;
};
constexpr AllowedGlobal kAllowedGlobals[] = {
        {"collections", "OrderedDict", Global::kOrderedDict},
        {"torch._utils", "_rebuild_tensor_v2", Global::kRebuildTensorV2},
        {"torch._utils", "_rebuild_parameter", Global::kRebuildParameter},
        {"torch", "FloatStorage", Global::kFloatStorage},
        {"torch", "HalfStorage", Global::kHalfStorage},
        {"torch", "BFloat16Storage", Global::kBFloat16Storage},
};

struct Node {
    enum class Kind { kNone, kBool, kInt, kStr, kTuple, kList, kDict, kGlobal, kStorage, kTensor };
    Kind kind = Kind::kNone;
    int64_t i = 0;                                 // kBool, kInt
    std::string s;                                 // kStr
    std::vector<Node*> items;                      // kTuple, kList
    std::vector<std::pair<Node*, Node*>> entries;  // kDict
    Global global = Global::kOrderedDict;          // kGlobal
    TorchTensorRef tensor;                         // kStorage (key, type, numel) and kTensor
};

std::string_view kind_name(Node::Kind k) {
    switch (k) {
        case Node::Kind::kNone:
            return "None";
        case Node::Kind::kBool:
            return "bool";
        case Node::Kind::kInt:
            return "int";
        case Node::Kind::kStr:
            return "str";
        case Node::Kind::kTuple:
            return "tuple";
        case Node::Kind::kList:
            return "list";
        case Node::Kind::kDict:
            return "dict";
        case Node::Kind::kGlobal:
            return "global";
        case Node::Kind::kStorage:
            return "storage";
        case Node::Kind::kTensor:
            return "tensor";
    }
    return "?";
}

[[noreturn]] void bad(const std::string& what) {
    throw Error(Errc::kBadValue, "pickle: " + what);
}

class Unpickler {
public:
    explicit Unpickler(std::span<const std::byte> data) : r_(data) {}

    Node* run() {
        while (true) {
            const size_t at = r_.pos();
            const uint8_t op = r_.u8("pickle opcode");
            if (op == '.') {  // STOP
                if (!marks_.empty())
                    bad("STOP inside an unclosed MARK");
                return pop();
            }
            try {
                step(op);
            } catch (const Error& e) {
                if (e.code() == Errc::kTruncated)
                    throw;
                throw with_context(e, "at byte " + std::to_string(at));
            }
        }
    }

private:
    Node* make(Node::Kind k) {
        arena_.push_back(std::make_unique<Node>());
        arena_.back()->kind = k;
        return arena_.back().get();
    }
    Node* make_int(int64_t v) {
        Node* n = make(Node::Kind::kInt);
        n->i = v;
        return n;
    }
    void push(Node* n) { stack_.push_back(n); }
    size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
    Node* pop() {
        if (stack_.size() <= floor())
            bad("stack underflow");
        Node* n = stack_.back();
        stack_.pop_back();
        return n;
    }
    Node* top() const {
        if (stack_.size() <= floor())
            bad("stack underflow");
        return stack_.back();
    }
    // Pops everything above the innermost MARK (and the mark itself).
    std::vector<Node*> pop_mark() {
        if (marks_.empty())
            bad("no MARK on the stack");
        const size_t base = marks_.back();
        marks_.pop_back();
        std::vector<Node*> items(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end());
        stack_.resize(base);
        return items;
    }
    Node* tuple_of(std::vector<Node*> items) {
        Node* t = make(Node::Kind::kTuple);
        t->items = std::move(items);
        return t;
    }
    std::string read_str(size_t n) {
        std::string s = r_.str(n, "pickle string");
        if (utf8_invalid_offset(s) != kUtf8Valid)
            bad("string is not valid UTF-8");
        return s;
    }
    // A newline-terminated ASCII line (GLOBAL's module and name).
    std::string read_line() {
        std::string s;
        while (true) {
            const char c = static_cast<char>(r_.u8("pickle GLOBAL name"));
            if (c == '\n')
                return s;
            if (s.size() >= 256)
                bad("GLOBAL name too long");
            s.push_back(c);
        }
    }
    void memo_put(uint64_t key) { memo_[key] = top(); }
    Node* memo_get(uint64_t key) {
        const auto it = memo_.find(key);
        if (it == memo_.end())
            bad("memo key " + std::to_string(key) + " was never stored");
        return it->second;
    }
    void set_items(Node* dict, const std::vector<Node*>& kv) {
        if (dict->kind != Node::Kind::kDict)
            bad("SETITEM(S) on a " + std::string(kind_name(dict->kind)));
        if (kv.size() % 2 != 0)
            bad("SETITEMS with an odd number of items");
        for (size_t k = 0; k < kv.size(); k += 2)
            dict->entries.emplace_back(kv[k], kv[k + 1]);
    }
    void append_items(Node* list, const std::vector<Node*>& items) {
        if (list->kind != Node::Kind::kList)
            bad("APPEND(S) on a " + std::string(kind_name(list->kind)));
        list->items.insert(list->items.end(), items.begin(), items.end());
    }

    void step(uint8_t op);
    Node* reduce(Node* callable, Node* args);
    Node* persistent_load(Node* pid);

    ByteReader r_;
    std::vector<std::unique_ptr<Node>> arena_;
    std::vector<Node*> stack_;
    std::vector<size_t> marks_;
    std::map<uint64_t, Node*> memo_;
};

void Unpickler::step(uint8_t op) {
    switch (op) {
        case 0x80: {  // PROTO
            const uint8_t v = r_.u8("pickle protocol");
            if (v < 2 || v > 5)
                bad("unsupported protocol " + std::to_string(v));
            return;
        }
        case '}':
            push(make(Node::Kind::kDict));
            return;  // EMPTY_DICT
        case ']':
            push(make(Node::Kind::kList));
            return;  // EMPTY_LIST
        case ')':
            push(make(Node::Kind::kTuple));
            return;  // EMPTY_TUPLE
        case '(':
            marks_.push_back(stack_.size());
            return;  // MARK
        case 'X': {  // BINUNICODE
            const uint32_t n = r_.u32("pickle string length");
            Node* s = make(Node::Kind::kStr);
            s->s = read_str(n);
            push(s);
            return;
        }
        case 0x8c: {  // SHORT_BINUNICODE
            const uint8_t n = r_.u8("pickle string length");
            Node* s = make(Node::Kind::kStr);
            s->s = read_str(n);
            push(s);
            return;
        }
        case 'q':
            memo_put(r_.u8("pickle memo key"));
            return;  // BINPUT
        case 'r':
            memo_put(r_.u32("pickle memo key"));
            return;  // LONG_BINPUT
        case 'h':
            push(memo_get(r_.u8("pickle memo key")));
            return;  // BINGET
        case 'j':
            push(memo_get(r_.u32("pickle memo key")));
            return;  // LONG_BINGET
        case 'J':
            push(make_int(r_.i32("pickle int")));
            return;  // BININT
        case 'K':
            push(make_int(r_.u8("pickle int")));
            return;  // BININT1
        case 'M':
            push(make_int(r_.u16("pickle int")));
            return;   // BININT2
        case 0x8a: {  // LONG1: n-byte little-endian two's complement
            const uint8_t n = r_.u8("pickle long length");
            if (n > 8)
                bad("integer wider than 64 bits");
            const auto b = r_.bytes(n, "pickle long");
            uint64_t u = 0;
            for (size_t k = 0; k < n; ++k)
                u |= static_cast<uint64_t>(b[k]) << (8 * k);
            if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80))
                u |= ~uint64_t{0} << (8 * n);
            push(make_int(static_cast<int64_t>(u)));
            return;
        }
        case 't':
            push(tuple_of(pop_mark()));
            return;   // TUPLE
        case 0x85: {  // TUPLE1
            Node* a = pop();
            push(tuple_of({a}));
            return;
        }
        case 0x86: {  // TUPLE2
            Node* b = pop();
            Node* a = pop();
            push(tuple_of({a, b}));
            return;
        }
        case 0x87: {  // TUPLE3
            Node* c = pop();
            Node* b = pop();
            Node* a = pop();
            push(tuple_of({a, b, c}));
            return;
        }
        case 's': {  // SETITEM
            Node* v = pop();
            Node* k = pop();
            set_items(top(), {k, v});
            return;
        }
        case 'u': {  // SETITEMS
            const std::vector<Node*> kv = pop_mark();
            set_items(top(), kv);
            return;
        }
        case 'a': {  // APPEND
            Node* v = pop();
            append_items(top(), {v});
            return;
        }
        case 'e': {  // APPENDS
            const std::vector<Node*> items = pop_mark();
            append_items(top(), items);
            return;
        }
        case 'c': {  // GLOBAL "module\nname\n": resolved against the allow-list, never imported
            const std::string module = read_line();
            const std::string name = read_line();
            for (const auto& g : kAllowedGlobals) {
                if (g.module == module && g.name == name) {
                    Node* n = make(Node::Kind::kGlobal);
                    n->global = g.id;
                    push(n);
                    return;
                }
            }
            throw Error(Errc::kUnsupported,
                        "pickle global '" + module + " " + name + "' is not allowed");
        }
        case 'Q': {  // BINPERSID
            Node* pid = pop();
            push(persistent_load(pid));
            return;
        }
        case 'R': {  // REDUCE
            Node* args = pop();
            Node* callable = pop();
            push(reduce(callable, args));
            return;
        }
        case 0x89: {  // NEWFALSE
            Node* n = make(Node::Kind::kBool);
            n->i = 0;
            push(n);
            return;
        }
        case 0x88: {  // NEWTRUE
            Node* n = make(Node::Kind::kBool);
            n->i = 1;
            push(n);
            return;
        }
        case 'N':
            push(make(Node::Kind::kNone));
            return;  // NONE
        case 'b': {  // BUILD: only an OrderedDict's attribute state (torch's _metadata), ignored
            pop();
            if (top()->kind != Node::Kind::kDict)
                bad("BUILD on a " + std::string(kind_name(top()->kind)));
            return;
        }
        default:
            break;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    throw Error(Errc::kUnsupported, std::string("pickle opcode 0x") + kHex[op >> 4] +
                                            kHex[op & 15] + " is not allowed");
}

// ('storage', <storage class>, key, location, numel) -> a storage reference.
Node* Unpickler::persistent_load(Node* pid) {
    const auto& it = pid->items;
    if (pid->kind != Node::Kind::kTuple || it.size() != 5 || it[0]->kind != Node::Kind::kStr ||
        it[0]->s != "storage" || it[1]->kind != Node::Kind::kGlobal ||
        it[2]->kind != Node::Kind::kStr || it[3]->kind != Node::Kind::kStr ||
        it[4]->kind != Node::Kind::kInt || it[4]->i < 0) {
        bad("persistent id is not ('storage', type, key, location, numel)");
    }
    Node* s = make(Node::Kind::kStorage);
    switch (it[1]->global) {
        case Global::kFloatStorage:
            s->tensor.type = DType::kF32;
            break;
        case Global::kHalfStorage:
            s->tensor.type = DType::kF16;
            break;
        case Global::kBFloat16Storage:
            s->tensor.type = DType::kBF16;
            break;
        default:
            bad("persistent id names a non-storage class");
    }
    s->tensor.storage_key = it[2]->s;
    s->tensor.storage_numel = static_cast<uint64_t>(it[4]->i);
    return s;
}

// Non-negative integers of a tuple (sizes and strides).
std::vector<uint64_t> dims_of(const Node* t, const char* what) {
    if (t->kind != Node::Kind::kTuple)
        bad(std::string(what) + " is not a tuple");
    std::vector<uint64_t> out;
    for (const Node* n : t->items) {
        if (n->kind != Node::Kind::kInt || n->i < 0)
            bad(std::string(what) + " holds a non-integer or negative value");
        out.push_back(static_cast<uint64_t>(n->i));
    }
    return out;
}

Node* Unpickler::reduce(Node* callable, Node* args) {
    if (callable->kind != Node::Kind::kGlobal)
        bad("REDUCE of a " + std::string(kind_name(callable->kind)));
    if (args->kind != Node::Kind::kTuple)
        bad("REDUCE arguments are not a tuple");
    const auto& a = args->items;
    switch (callable->global) {
        case Global::kOrderedDict:
            if (!a.empty())
                bad("OrderedDict() with arguments");
            return make(Node::Kind::kDict);
        case Global::kRebuildTensorV2: {
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            if (a.size() < 4 || a[0]->kind != Node::Kind::kStorage ||
                a[1]->kind != Node::Kind::kInt || a[1]->i < 0) {
                bad("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)");
            }
            Node* t = make(Node::Kind::kTensor);
            t->tensor = a[0]->tensor;
            t->tensor.offset = static_cast<uint64_t>(a[1]->i);
            t->tensor.shape = dims_of(a[2], "tensor size");
            t->tensor.stride = dims_of(a[3], "tensor stride");
            if (t->tensor.shape.size() != t->tensor.stride.size())
                bad("tensor size and stride differ in length");
            return t;
        }
        case Global::kRebuildParameter:  // (data, requires_grad, backward_hooks): the tensor itself
            if (a.empty() || a[0]->kind != Node::Kind::kTensor)
                bad("_rebuild_parameter of a non-tensor");
            return a[0];
        default:
            bad("a storage class cannot be called");
    }
}

}  // namespace

std::vector<std::pair<std::string, TorchTensorRef>> parse_torch_pickle(
        std::span<const std::byte> pickle) {
    Unpickler u(pickle);
    const Node* root = u.run();
    if (root->kind != Node::Kind::kDict) {
        bad("the top-level object is a " + std::string(kind_name(root->kind)) + ", not a dict");
    }
    std::vector<std::pair<std::string, TorchTensorRef>> out;
    std::map<std::string_view, bool> seen;
    for (const auto& [k, v] : root->entries) {
        if (k->kind != Node::Kind::kStr)
            bad("a state-dict key is a " + std::string(kind_name(k->kind)));
        if (v->kind != Node::Kind::kTensor)
            bad("entry '" + k->s + "' is a " + std::string(kind_name(v->kind)) + ", not a tensor");
        if (seen.count(k->s) != 0)
            bad("duplicate key '" + k->s + "'");
        seen[k->s] = true;
        out.emplace_back(k->s, v->tensor);
    }
    return out;
}

}  // namespace mistral::convert
