//! Orquesta, StackStorm's workflow language (`../shared/spec/workflows.md` §2): the file
//! read into a typed model ([`model`]), upstream's inspection before anything runs
//! ([`inspect`]), expressions in values ([`expr`]), and the conductor ([`conductor`]) the
//! `orquesta` runner (`runner::orquesta`) drives in waves.

pub mod conductor;
pub mod expr;
pub mod inline;
pub mod inspect;
pub mod model;
pub mod waves;
