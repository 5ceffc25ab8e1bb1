//! How the schemas of two checkpoints differ: what `checkpoint diff`
//! shows.

use std::fmt;

use crate::format::{FieldRecord, Header, SchemaRecord, ShapeRecord, VariantRecord};
use crate::schema::{same_type, DeepChange};

/// One difference between the schemas of two checkpoints, found by [`diff`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaChange {
    /// The type's checkpoint name differs.
    TypeRenamed {
        /// The name in the older checkpoint.
        from: String,
        /// The name in the newer one.
        to: String,
    },
    /// The type changed between struct, tuple struct, unit struct and enum
    /// (or a variant did, for `path` `Variant`).
    ShapeChanged {
        /// Empty for the type, the variant's name for a variant.
        path: String,
        /// The shape before.
        from: &'static str,
        /// The shape after.
        to: &'static str,
    },
    /// A field exists only in the newer checkpoint.
    FieldAdded {
        /// The field (`Variant::field` in an enum).
        path: String,
        /// Its type.
        ty: String,
    },
    /// A field exists only in the older checkpoint.
    FieldRemoved {
        /// The field.
        path: String,
        /// Its type.
        ty: String,
    },
    /// A field of the older checkpoint is in the newer one under another
    /// name, which declares the old one as an alias.
    FieldRenamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A field's type differs.
    FieldTypeChanged {
        /// The field.
        path: String,
        /// The type before.
        from: String,
        /// The type after.
        to: String,
    },
    /// A field became derived (rebuilt on restore) or stored.
    FieldDerivedChanged {
        /// The field.
        path: String,
        /// Whether it is derived in the newer checkpoint.
        derived: bool,
    },
    /// A variant exists only in the newer checkpoint.
    VariantAdded {
        /// The variant.
        name: String,
    },
    /// A variant exists only in the older checkpoint.
    VariantRemoved {
        /// The variant.
        name: String,
    },
    /// A change inside a field's type (a nested struct's field, an enum's
    /// variant, a collection's element), found by comparing the deep shapes
    /// that format version 2 records.
    NestedTypeChanged {
        /// The field.
        field: String,
        /// The first difference, its path starting at the field
        /// (`log[].payload.sender`).
        change: DeepChange,
    },
}

impl SchemaChange {
    /// A short name of the kind of change, e.g. `field-added`.
    pub fn kind(&self) -> &'static str {
        match self {
            SchemaChange::TypeRenamed { .. } => "type-renamed",
            SchemaChange::ShapeChanged { .. } => "shape-changed",
            SchemaChange::FieldAdded { .. } => "field-added",
            SchemaChange::FieldRemoved { .. } => "field-removed",
            SchemaChange::FieldRenamed { .. } => "field-renamed",
            SchemaChange::FieldTypeChanged { .. } => "field-type-changed",
            SchemaChange::FieldDerivedChanged { .. } => "field-derived-changed",
            SchemaChange::VariantAdded { .. } => "variant-added",
            SchemaChange::VariantRemoved { .. } => "variant-removed",
            SchemaChange::NestedTypeChanged { .. } => "nested-type-changed",
        }
    }
}

impl fmt::Display for SchemaChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaChange::TypeRenamed { from, to } => write!(f, "type renamed `{from}` -> `{to}`"),
            SchemaChange::ShapeChanged { path, from, to } if path.is_empty() => {
                write!(f, "type changed from {from} to {to}")
            }
            SchemaChange::ShapeChanged { path, from, to } => {
                write!(f, "variant `{path}` changed from {from} to {to}")
            }
            SchemaChange::FieldAdded { path, ty } => write!(f, "+ field `{path}: {ty}`"),
            SchemaChange::FieldRemoved { path, ty } => write!(f, "- field `{path}: {ty}`"),
            SchemaChange::FieldRenamed { from, to } => {
                write!(f, "~ field `{from}` renamed to `{to}`")
            }
            SchemaChange::FieldTypeChanged { path, from, to } => {
                write!(f, "~ field `{path}` type `{from}` -> `{to}`")
            }
            SchemaChange::FieldDerivedChanged {
                path,
                derived: true,
            } => {
                write!(f, "~ field `{path}` is now derived (no longer stored)")
            }
            SchemaChange::FieldDerivedChanged {
                path,
                derived: false,
            } => write!(f, "~ field `{path}` is now stored (was derived)"),
            SchemaChange::VariantAdded { name } => write!(f, "+ variant `{name}`"),
            SchemaChange::VariantRemoved { name } => write!(f, "- variant `{name}`"),
            SchemaChange::NestedTypeChanged { change, .. } => write!(f, "~ {change}"),
        }
    }
}

/// The differences between the schema of an older checkpoint and a newer
/// one, in field order; empty when they are the same.
///
/// A field of the newer schema that lists an old field's name among its
/// aliases is a rename, not a removal and an addition.
pub fn diff(older: &SchemaRecord, newer: &SchemaRecord) -> Vec<SchemaChange> {
    let mut changes = Vec::new();
    if older.name != newer.name {
        changes.push(SchemaChange::TypeRenamed {
            from: older.name.clone(),
            to: newer.name.clone(),
        });
    }
    match (&older.shape, &newer.shape) {
        (ShapeRecord::Struct(a), ShapeRecord::Struct(b))
        | (ShapeRecord::Tuple(a), ShapeRecord::Tuple(b)) => diff_fields("", a, b, &mut changes),
        (ShapeRecord::Unit, ShapeRecord::Unit) => {}
        (ShapeRecord::Enum(a), ShapeRecord::Enum(b)) => diff_variants(a, b, &mut changes),
        (a, b) => changes.push(SchemaChange::ShapeChanged {
            path: String::new(),
            from: shape_name(a),
            to: shape_name(b),
        }),
    }
    changes
}

/// [`diff`] of two checkpoints' schemas, plus the changes inside fields'
/// types that their deep shapes show (format version 2 records them; a
/// version 1 checkpoint has none to compare).
pub fn diff_headers(older: &Header, newer: &Header) -> Vec<SchemaChange> {
    let mut changes = diff(&older.schema, &newer.schema);
    let fields = |schema: &SchemaRecord| -> Vec<(String, FieldRecord)> {
        match &schema.shape {
            ShapeRecord::Struct(f) | ShapeRecord::Tuple(f) => {
                f.iter().map(|f| (f.name.clone(), f.clone())).collect()
            }
            ShapeRecord::Unit => Vec::new(),
            ShapeRecord::Enum(vs) => vs
                .iter()
                .flat_map(|v| {
                    v.fields.iter().map(move |f| {
                        let mut f = f.clone();
                        f.aliases = f
                            .aliases
                            .iter()
                            .map(|a| format!("{}::{a}", v.name))
                            .collect();
                        (format!("{}::{}", v.name, f.name), f)
                    })
                })
                .collect(),
        }
    };
    for (path, field) in fields(&newer.schema) {
        let Some(new_root) = newer.deep.root(&path) else {
            continue;
        };
        let old_root = std::iter::once(&path)
            .chain(&field.aliases)
            .find_map(|name| older.deep.root(name));
        let Some(old_root) = old_root else {
            continue;
        };
        // A different type at the top is already said by its written name.
        let retyped = changes
            .iter()
            .any(|c| matches!(c, SchemaChange::FieldTypeChanged { path: p, .. } if *p == path));
        for change in older.deep.diff(old_root, &newer.deep, new_root) {
            if retyped && change.path().is_empty() {
                continue;
            }
            changes.push(SchemaChange::NestedTypeChanged {
                change: change.within(&path),
                field: path.clone(),
            });
        }
    }
    changes
}

/// What a stored shape is, in words.
pub fn shape_name(shape: &ShapeRecord) -> &'static str {
    shape.describe()
}

fn variant_kind_name(kind: u8) -> &'static str {
    match kind {
        0 => "a struct variant",
        1 => "a tuple variant",
        _ => "a unit variant",
    }
}

fn diff_variants(older: &[VariantRecord], newer: &[VariantRecord], out: &mut Vec<SchemaChange>) {
    for a in older {
        match newer.iter().find(|b| b.name == a.name) {
            None => out.push(SchemaChange::VariantRemoved {
                name: a.name.clone(),
            }),
            Some(b) if a.kind != b.kind => out.push(SchemaChange::ShapeChanged {
                path: a.name.clone(),
                from: variant_kind_name(a.kind),
                to: variant_kind_name(b.kind),
            }),
            Some(b) => diff_fields(&format!("{}::", a.name), &a.fields, &b.fields, out),
        }
    }
    for b in newer
        .iter()
        .filter(|b| older.iter().all(|a| a.name != b.name))
    {
        out.push(SchemaChange::VariantAdded {
            name: b.name.clone(),
        });
    }
}

fn diff_fields(
    prefix: &str,
    older: &[FieldRecord],
    newer: &[FieldRecord],
    out: &mut Vec<SchemaChange>,
) {
    let path = |name: &str| format!("{prefix}{name}");
    let answers_to =
        |b: &FieldRecord, name: &str| b.name == name || b.aliases.iter().any(|a| a == name);
    let mut matched = vec![false; newer.len()];
    for a in older {
        let found = newer
            .iter()
            .position(|b| b.name == a.name)
            .or_else(|| newer.iter().position(|b| answers_to(b, &a.name)));
        let Some(i) = found else {
            out.push(SchemaChange::FieldRemoved {
                path: path(&a.name),
                ty: a.ty.clone(),
            });
            continue;
        };
        matched[i] = true;
        let b = &newer[i];
        if a.name != b.name {
            out.push(SchemaChange::FieldRenamed {
                from: path(&a.name),
                to: path(&b.name),
            });
        }
        if !same_type(&a.ty, &b.ty) {
            out.push(SchemaChange::FieldTypeChanged {
                path: path(&b.name),
                from: a.ty.clone(),
                to: b.ty.clone(),
            });
        }
        if a.derived != b.derived {
            out.push(SchemaChange::FieldDerivedChanged {
                path: path(&b.name),
                derived: b.derived,
            });
        }
    }
    for (b, _) in newer.iter().zip(&matched).filter(|(_, m)| !**m) {
        out.push(SchemaChange::FieldAdded {
            path: path(&b.name),
            ty: b.ty.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{FieldSchema, Schema, Shape, VariantSchema};

    #[test]
    fn diff_names_added_removed_renamed_and_retyped_fields() {
        const OLD: Schema = Schema::new(
            "Point",
            Shape::Struct(&[
                FieldSchema::serialized("x", "i32"),
                FieldSchema::serialized("tags", "Vec<String>"),
                FieldSchema::derived("norm", "f64"),
            ]),
        );
        const NEW: Schema = Schema::new(
            "Point",
            Shape::Struct(&[
                FieldSchema::serialized("xx", "i64").with_aliases(&["x"]),
                FieldSchema::derived("tags", "Vec<String>"),
                FieldSchema::serialized("z", "u8"),
            ]),
        );
        let changes = diff(&SchemaRecord::of(&OLD), &SchemaRecord::of(&NEW));
        let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "~ field `x` renamed to `xx`",
                "~ field `xx` type `i32` -> `i64`",
                "~ field `tags` is now derived (no longer stored)",
                "- field `norm: f64`",
                "+ field `z: u8`",
            ]
        );
        assert!(diff(&SchemaRecord::of(&OLD), &SchemaRecord::of(&OLD)).is_empty());
    }

    #[test]
    fn diff_compares_enums_per_variant() {
        const OLD: Schema = Schema::new(
            "E",
            Shape::Enum(&[
                VariantSchema::new("A", Shape::Unit),
                VariantSchema::new("B", Shape::Struct(&[FieldSchema::serialized("x", "u8")])),
            ]),
        );
        const NEW: Schema = Schema::new(
            "E",
            Shape::Enum(&[
                VariantSchema::new("B", Shape::Struct(&[FieldSchema::serialized("x", "u16")])),
                VariantSchema::new("C", Shape::Tuple(&[FieldSchema::serialized("0", "u8")])),
            ]),
        );
        let shown: Vec<String> = diff(&SchemaRecord::of(&OLD), &SchemaRecord::of(&NEW))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "- variant `A`",
                "~ field `B::x` type `u8` -> `u16`",
                "+ variant `C`"
            ]
        );
    }
}
