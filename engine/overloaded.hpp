// An overload set from lambdas, for std::visit over the engine's variants (inputs, effects,
// requests, events): `std::visit(Overloaded{[](const A&) {...}, [](const B&) {...}}, v)`.
// With no catch-all `auto` lambda, a variant alternative left unhandled fails to compile.
#pragma once

namespace parley::engine {

template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
// Clang before 17 does not deduce an aggregate's template arguments on its own (P1816).
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace parley::engine
