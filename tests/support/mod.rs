#![allow(dead_code)]

pub mod connect_double;
