#![allow(dead_code)]

pub mod connect_double;
pub mod harness;
pub mod moto;
pub mod runtime_api;
