//! Property tests for the wire decoders (the same bodies as the fuzz
//! targets, so CI exercises them on every run).

use portcullis_postgres::protocol::frame::write_frame;
use portcullis_postgres::protocol::startup::{self, StartupPacket};
use proptest::prelude::*;

fn feed(data: &[u8]) {
    portcullis_postgres::protocol::exercise_decoders(data);
}

/// Frames with plausible tags and arbitrary bodies.
fn frames() -> impl Strategy<Value = Vec<u8>> {
    let tag = prop::sample::select(b"QPBDECSHFXdcfp123nstTZIAVGW".to_vec());
    prop::collection::vec((tag, prop::collection::vec(any::<u8>(), 0..64)), 0..24).prop_map(|fs| {
        let mut out = Vec::new();
        for (t, body) in fs {
            write_frame(&mut out, t, |b| b.extend_from_slice(&body));
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoders_never_panic_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        feed(&data);
    }

    #[test]
    fn decoders_never_panic_on_well_framed_garbage(data in frames()) {
        feed(&data);
    }

    #[test]
    fn startup_packets_round_trip(params in prop::collection::vec(("[a-z_]{1,12}", "[ -~&&[^\\x00]]{0,20}"), 0..6)) {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let pkt = startup::encode_startup(&pairs);
        let n = startup::packet_len([pkt[0], pkt[1], pkt[2], pkt[3]]).unwrap();
        prop_assert_eq!(n, pkt.len());
        match startup::decode(&pkt[4..]).unwrap() {
            StartupPacket::Startup(s) => {
                let got: Vec<(String, String)> = s.params;
                let want: Vec<(String, String)> = params.clone();
                prop_assert_eq!(got, want);
            }
            other => prop_assert!(false, "decoded as {:?}", other),
        }
    }
}

/// Frames prefixed with a direction byte, the input of the masker exercise.
fn directed_frames() -> impl Strategy<Value = Vec<u8>> {
    let tag = prop::sample::select(b"QPBDECSHdcfp123nstTZIAVGWHN".to_vec());
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        // A RowDescription of public.users(id, email) in text format.
        Just(row_description_users()),
        // A DataRow of two text fields.
        Just(vec![
            0, 2, 0, 0, 0, 1, b'1', 0, 0, 0, 16, b'j', b'a', b'n', b'e', b'@', b'e', b'x', b'a',
            b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm'
        ]),
        Just(b"select id, email from users\0".to_vec()),
    ];
    prop::collection::vec((any::<u8>(), tag, body), 0..24).prop_map(|fs| {
        let mut out = Vec::new();
        for (dir, t, body) in fs {
            out.push(dir);
            write_frame(&mut out, t, |b| b.extend_from_slice(&body));
        }
        out
    })
}

fn row_description_users() -> Vec<u8> {
    let mut out = vec![0, 2];
    for (name, attnum, typ) in [("id", 1i16, 23u32), ("email", 2, 25)] {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(&16384u32.to_be_bytes());
        out.extend_from_slice(&attnum.to_be_bytes());
        out.extend_from_slice(&typ.to_be_bytes());
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out.extend_from_slice(&(-1i32).to_be_bytes());
        out.extend_from_slice(&0i16.to_be_bytes());
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn masker_never_panics_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        portcullis_postgres::mask::exercise_masker(&data);
    }

    #[test]
    fn masker_never_panics_on_well_framed_garbage(data in directed_frames()) {
        portcullis_postgres::mask::exercise_masker(&data);
    }
}
