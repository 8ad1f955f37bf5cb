//! serde's `rename_all` rules, applied to field names exactly as serde does,
//! so the paths the derive computes are the keys serde writes.

use self::RenameRule::{
    CamelCase, KebabCase, LowerCase, PascalCase, ScreamingKebabCase, ScreamingSnakeCase, SnakeCase,
    UpperCase,
};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub(crate) enum RenameRule {
    #[default]
    None,
    LowerCase,
    UpperCase,
    PascalCase,
    CamelCase,
    SnakeCase,
    ScreamingSnakeCase,
    KebabCase,
    ScreamingKebabCase,
}

static RENAME_RULES: &[(&str, RenameRule)] = &[
    ("lowercase", LowerCase),
    ("UPPERCASE", UpperCase),
    ("PascalCase", PascalCase),
    ("camelCase", CamelCase),
    ("snake_case", SnakeCase),
    ("SCREAMING_SNAKE_CASE", ScreamingSnakeCase),
    ("kebab-case", KebabCase),
    ("SCREAMING-KEBAB-CASE", ScreamingKebabCase),
];

impl RenameRule {
    /// The rule named `s`; `None` for a name serde rejects (serde reports it).
    pub(crate) fn from_str(s: &str) -> Option<Self> {
        RENAME_RULES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, rule)| *rule)
    }

    /// The serialized name of a field, as serde's `apply_to_field`: field
    /// names are taken to be snake_case already, so `lowercase` and
    /// `snake_case` leave them alone.
    pub(crate) fn apply_to_field(self, field: &str) -> String {
        match self {
            RenameRule::None | LowerCase | SnakeCase => field.to_owned(),
            UpperCase | ScreamingSnakeCase => field.to_ascii_uppercase(),
            PascalCase => {
                let mut pascal = String::new();
                let mut capitalize = true;
                for ch in field.chars() {
                    if ch == '_' {
                        capitalize = true;
                    } else if capitalize {
                        pascal.push(ch.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        pascal.push(ch);
                    }
                }
                pascal
            }
            CamelCase => {
                let pascal = PascalCase.apply_to_field(field);
                let mut chars = pascal.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => pascal,
                }
            }
            KebabCase => field.replace('_', "-"),
            ScreamingKebabCase => field.to_ascii_uppercase().replace('_', "-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RenameRule::{self, *};

    #[test]
    fn rename_fields() {
        for &(original, upper, pascal, camel, screaming, kebab, screaming_kebab) in &[
            (
                "outcome", "OUTCOME", "Outcome", "outcome", "OUTCOME", "outcome", "OUTCOME",
            ),
            (
                "very_tasty",
                "VERY_TASTY",
                "VeryTasty",
                "veryTasty",
                "VERY_TASTY",
                "very-tasty",
                "VERY-TASTY",
            ),
            ("a", "A", "A", "a", "A", "a", "A"),
            ("z42", "Z42", "Z42", "z42", "Z42", "z42", "Z42"),
            (
                "invoice_file_2",
                "INVOICE_FILE_2",
                "InvoiceFile2",
                "invoiceFile2",
                "INVOICE_FILE_2",
                "invoice-file-2",
                "INVOICE-FILE-2",
            ),
        ] {
            assert_eq!(RenameRule::None.apply_to_field(original), original);
            assert_eq!(LowerCase.apply_to_field(original), original);
            assert_eq!(UpperCase.apply_to_field(original), upper);
            assert_eq!(PascalCase.apply_to_field(original), pascal);
            assert_eq!(CamelCase.apply_to_field(original), camel);
            assert_eq!(SnakeCase.apply_to_field(original), original);
            assert_eq!(ScreamingSnakeCase.apply_to_field(original), screaming);
            assert_eq!(KebabCase.apply_to_field(original), kebab);
            assert_eq!(ScreamingKebabCase.apply_to_field(original), screaming_kebab);
        }
    }

    #[test]
    fn non_snake_fields_keep_their_shape() {
        // serde treats field names as snake_case: `lowercase` is a no-op.
        assert_eq!(LowerCase.apply_to_field("myField"), "myField");
        assert_eq!(CamelCase.apply_to_field("_private"), "private");
        assert_eq!(CamelCase.apply_to_field("_"), "");
    }

    #[test]
    fn parses_every_rule_name() {
        assert_eq!(RenameRule::from_str("camelCase"), Some(CamelCase));
        assert_eq!(
            RenameRule::from_str("SCREAMING-KEBAB-CASE"),
            Some(ScreamingKebabCase)
        );
        assert_eq!(RenameRule::from_str("camelcase"), Option::None);
    }
}
