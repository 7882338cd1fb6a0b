//! `setters!`: the by-value setters of the public documents and requests code outside the crate builds (they are
//! `#[non_exhaustive]`, so a constructor plus these setters is how such code fills them in), and the plain setters
//! of the builders.

/// Builder-style setters, one per field: `<name>(<field>: <argument type>) = <value>;` sets `self.<field>` to
/// `<value>` (an expression of the argument) and returns `self`. Doc comments before each line become the
/// setter's docs. `setters! { in <part>; ... }` sets `self.<part>.<field>` instead.
macro_rules! setters {
    (in $part:ident; $( $(#[$doc:meta])* $name:ident($field:ident: $arg:ty) = $value:expr; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $field: $arg) -> Self {
                self.$part.$field = $value;
                self
            }
        )*
    };
    ($( $(#[$doc:meta])* $name:ident($field:ident: $arg:ty) = $value:expr; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $field: $arg) -> Self {
                self.$field = $value;
                self
            }
        )*
    };
}

pub(crate) use setters;
