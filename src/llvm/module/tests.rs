use super::*;

#[test]
fn declared_functions_and_globals_with_their_signatures() {
    let module = Module::parse_ir(
        "@defined = global i32 0\n\
         @ext = external global i64\n\
         declare double @sin(double)\n\
         declare i32 @printf(ptr, ...)\n\
         declare void @take(i8, i64, float, ptr, <2 x i32>)\n\
         declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)\n\
         define i32 @f() { ret i32 0 }\n",
        "declared",
    )
    .unwrap();
    let sigs = module.declared_functions();
    let text: Vec<String> = sigs.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        text,
        [
            "double sin(double)",
            "i32 printf(ptr, ...)",
            "void take(i8, i64, float, ptr, <aggregate or other type>)",
        ]
    );
    assert!(sigs[1].variadic && !sigs[0].variadic);
    assert_eq!(sigs[2].params[0], ValueKind::Int(8));
    assert_eq!(module.declared_globals(), ["ext"]);
}
