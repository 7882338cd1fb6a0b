//! `timeout_twins!`: a send method and its `_timeout` twin written once. The raw client offers most sends twice,
//! once with the producer's send timeout and once with one given in milliseconds as the last argument; the shims
//! mirror both, and both run the same helper with `None` or `Some(timeout)`.

/// Defines, for each `name<G..> / twin<G..>(args) -> R where { bounds } => helper(exprs);`:
/// `pub async fn name(&self, args) -> R`, which awaits `self.helper(exprs, None)`, and
/// `pub async fn twin(&self, args, timeout: u64) -> R`, which awaits `self.helper(exprs, Some(timeout))`. Doc
/// comments before an entry become `name`'s docs; `twin`'s docs name `name`. Each side lists its own generics, so
/// both keep the order of the raw client's signatures; `twin where { more }` after the bounds adds bounds the raw
/// twin alone has (each bound ending in a comma).
macro_rules! timeout_twins {
    ($(
        $(#[$doc:meta])*
        $name:ident<$($g:ident),*> / $twin:ident<$($tg:ident),*>($($arg:ident: $ty:ty),*) -> $ret:ty
        where { $($bounds:tt)* }
        $(twin where { $($twin_bounds:tt)* })?
        => $via:ident($($pass:expr),*);
    )*) => {$(
        $(#[$doc])*
        pub async fn $name<$($g),*>(&self, $($arg: $ty),*) -> $ret
        where
            $($bounds)*
        {
            self.$via($($pass,)* None).await
        }

        #[doc = concat!("As [`Self::", stringify!($name), "`], with a timeout in milliseconds.")]
        pub async fn $twin<$($tg),*>(&self, $($arg: $ty,)* timeout: u64) -> $ret
        where
            $($bounds)*
            $($($twin_bounds)*)?
        {
            self.$via($($pass,)* Some(timeout)).await
        }
    )*};
}

pub(crate) use timeout_twins;
