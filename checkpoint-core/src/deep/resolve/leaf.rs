//! Reading leaves: as written, widened, or as the reader asks when
//! nothing was recorded.

use serde::de::{self, Visitor};
use serde::Deserialize;

use super::{decode, every_leaf, Postcard, Reading, ResolveError, Resolver};
use crate::deep::{Leaf, NodeId};

/// Reads a leaf written as the type the reader asks for.
#[inline]
pub(super) fn read_same<'de, V: Visitor<'de>>(
    de: &mut Postcard<'de>,
    leaf: Leaf,
    visitor: V,
) -> Result<V::Value, ResolveError> {
    macro_rules! read {
        ($t:ty, $visit:ident) => {
            visitor.$visit(<$t>::deserialize(&mut *de).map_err(decode)?)
        };
    }
    match leaf {
        Leaf::Unit => visitor.visit_unit(),
        Leaf::Bool => read!(bool, visit_bool),
        Leaf::I8 => read!(i8, visit_i8),
        Leaf::I16 => read!(i16, visit_i16),
        Leaf::I32 => read!(i32, visit_i32),
        Leaf::I64 => read!(i64, visit_i64),
        Leaf::I128 => read!(i128, visit_i128),
        Leaf::U8 => read!(u8, visit_u8),
        Leaf::U16 => read!(u16, visit_u16),
        Leaf::U32 => read!(u32, visit_u32),
        Leaf::U64 => read!(u64, visit_u64),
        Leaf::U128 => read!(u128, visit_u128),
        Leaf::F32 => read!(f32, visit_f32),
        Leaf::F64 => read!(f64, visit_f64),
        Leaf::Char => read!(char, visit_char),
        Leaf::Str => read!(&str, visit_borrowed_str),
        Leaf::Bytes => read!(&[u8], visit_borrowed_bytes),
    }
}

pub(super) fn read_leaf<'de, V: Visitor<'de>>(
    de: &mut Postcard<'de>,
    have: Leaf,
    want: Leaf,
    visitor: V,
) -> Result<V::Value, ResolveError> {
    macro_rules! int {
        ($t:ty) => {
            visit_int(
                visitor,
                want,
                i128::from(<$t>::deserialize(&mut *de).map_err(decode)?),
            )
        };
    }
    match have {
        Leaf::Unit => visitor.visit_unit(),
        Leaf::Bool => visitor.visit_bool(bool::deserialize(&mut *de).map_err(decode)?),
        Leaf::I8 => int!(i8),
        Leaf::I16 => int!(i16),
        Leaf::I32 => int!(i32),
        Leaf::I64 => int!(i64),
        Leaf::I128 => visitor.visit_i128(i128::deserialize(&mut *de).map_err(decode)?),
        Leaf::U8 => int!(u8),
        Leaf::U16 => int!(u16),
        Leaf::U32 => int!(u32),
        Leaf::U64 => int!(u64),
        Leaf::U128 => visitor.visit_u128(u128::deserialize(&mut *de).map_err(decode)?),
        Leaf::F32 => {
            let v = f32::deserialize(&mut *de).map_err(decode)?;
            if want == Leaf::F64 {
                visitor.visit_f64(f64::from(v))
            } else {
                visitor.visit_f32(v)
            }
        }
        Leaf::F64 => visitor.visit_f64(f64::deserialize(&mut *de).map_err(decode)?),
        Leaf::Char => visitor.visit_char(char::deserialize(&mut *de).map_err(decode)?),
        Leaf::Str => visitor.visit_borrowed_str(<&str>::deserialize(&mut *de).map_err(decode)?),
        Leaf::Bytes => {
            visitor.visit_borrowed_bytes(<&[u8]>::deserialize(&mut *de).map_err(decode)?)
        }
    }
}

/// Visits an integer as the type the reader asked for; the widening table
/// ([`Leaf::widens_to`]) guarantees it fits.
pub(super) fn visit_int<'de, V: Visitor<'de>>(
    visitor: V,
    want: Leaf,
    v: i128,
) -> Result<V::Value, ResolveError> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    match want {
        Leaf::I8 => visitor.visit_i8(v as i8),
        Leaf::I16 => visitor.visit_i16(v as i16),
        Leaf::I32 => visitor.visit_i32(v as i32),
        Leaf::I64 => visitor.visit_i64(v as i64),
        Leaf::I128 => visitor.visit_i128(v),
        Leaf::U8 => visitor.visit_u8(v as u8),
        Leaf::U16 => visitor.visit_u16(v as u16),
        Leaf::U32 => visitor.visit_u32(v as u32),
        Leaf::U64 => visitor.visit_u64(v as u64),
        Leaf::U128 => visitor.visit_u128(v as u128),
        _ => visitor.visit_i64(v as i64),
    }
}

/// Reads a leaf with nothing recorded about it, as the reader says.
pub(super) fn passthrough<'de, V: Visitor<'de>>(
    de: &mut Postcard<'de>,
    want: Leaf,
    visitor: V,
) -> Result<V::Value, ResolveError> {
    use serde::Deserializer as _;
    let de = &mut *de;
    match want {
        Leaf::Unit => de.deserialize_unit(visitor),
        Leaf::Bool => de.deserialize_bool(visitor),
        Leaf::I8 => de.deserialize_i8(visitor),
        Leaf::I16 => de.deserialize_i16(visitor),
        Leaf::I32 => de.deserialize_i32(visitor),
        Leaf::I64 => de.deserialize_i64(visitor),
        Leaf::I128 => de.deserialize_i128(visitor),
        Leaf::U8 => de.deserialize_u8(visitor),
        Leaf::U16 => de.deserialize_u16(visitor),
        Leaf::U32 => de.deserialize_u32(visitor),
        Leaf::U64 => de.deserialize_u64(visitor),
        Leaf::U128 => de.deserialize_u128(visitor),
        Leaf::F32 => de.deserialize_f32(visitor),
        Leaf::F64 => de.deserialize_f64(visitor),
        Leaf::Char => de.deserialize_char(visitor),
        Leaf::Str => de.deserialize_str(visitor),
        Leaf::Bytes => de.deserialize_bytes(visitor),
    }
    .map_err(decode)
}

/// Reads one element of a sequence whose elements were all written as
/// `leaf`. The reader's leaf is compared with `leaf`, held beside the
/// reading, where a [`Resolver`] would look the node up for every element;
/// anything else the reader asks for goes to the [`Resolver`] at `at`.
pub(super) struct Element<'a, 'c, 'de> {
    pub(super) r: &'a mut Reading<'c, 'de>,
    pub(super) at: NodeId,
    pub(super) leaf: Leaf,
}

impl<'a, 'c, 'de> Element<'a, 'c, 'de> {
    fn resolver(self) -> Resolver<'a, 'c, 'de> {
        Resolver {
            r: self.r,
            at: self.at,
        }
    }
}

macro_rules! element_leaves {
    ($($method:ident => $leaf:ident,)*) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ResolveError> {
            if self.leaf == Leaf::$leaf {
                return read_same(&mut self.r.de, Leaf::$leaf, visitor);
            }
            self.resolver().$method(visitor)
        }
    )*};
}

macro_rules! element_forward {
    ($($method:ident($($arg:ident: $ty:ty),*),)*) => {$(
        fn $method<V: Visitor<'de>>(
            self,
            $($arg: $ty,)*
            visitor: V,
        ) -> Result<V::Value, ResolveError> {
            self.resolver().$method($($arg,)* visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Element<'_, '_, 'de> {
    type Error = ResolveError;

    every_leaf!(element_leaves);

    element_forward! {
        deserialize_any(),
        deserialize_ignored_any(),
        deserialize_identifier(),
        deserialize_option(),
        deserialize_seq(),
        deserialize_map(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}
