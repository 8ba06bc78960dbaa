package rules

import "testing"

func FuzzParseRule(f *testing.F) {
	f.Add(`alert tcp $HOME_NET any -> $EXTERNAL_NET [80,!81,1000:] (msg:"x"; flow:established,to_server; content:"a"; nocase; pcre:"/a(?!b)/Ri"; byte_test:2,>,1,0,relative; sid:1;)`)
	f.Add(`drop http any any <> ![10.0.0.0/8,$HOME_NET] any (http.uri; content:"|00|"; bsize:<5; flowbits:isset,a|b; threshold:type limit,track by_src,count 1,seconds 5; sid:2;)`)
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRule(text, nil)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		if r.Info == nil || r.Src == nil || r.Dst == nil || r.SrcPorts == nil || r.DstPorts == nil {
			t.Fatalf("incomplete rule from %q", text)
		}
	})
}
