# The Ruby end of the cross-language test (tests/cross/run.sh):
#   ruby ruby_side.rb ID MAC [C_ID]
# verifies the request C signed (POST /cross {"n":1}) through the shared Redis, checks
# the value C wrote, and writes from_ruby. With TOTO_CLIENT_KEY ("ID:64 hex digits")
# the cache is client-side: ID is the token Go saved, C_ID the token C sealed (opened
# too: it still holds C's state only), and the token of the saved session (a new one)
# is printed alone on stdout.
require "toto_session"

id, mac, c_id = ARGV
abort "usage: ruby_side.rb ID MAC [C_ID]" unless id && mac
client_key = ENV["TOTO_CLIENT_KEY"]
cache =
  if client_key
    key_id, hex = client_key.split(":", 2)
    abort "ruby_side: TOTO_CLIENT_KEY must be ID:64 hex digits" unless hex && hex.size == 64
    TotoSession::Cache.client_side(keys: [{ id: Integer(key_id), key: [hex].pack("H*") }])
  else
    TotoSession::Cache.redis(ENV.fetch("TOTO_REDIS_URL"))
  end
manager = TotoSession::Manager.new(cache: cache)
if client_key
  abort "ruby_side: client-side mode needs C_ID" unless c_id
  manager.verify_request(c_id, mac, "POST", "/cross", '{"n":1}') do |session|
    abort "ruby_side: C's token has from_c #{session[:from_c].inspect}" unless session[:from_c] == 1
    abort "ruby_side: C's token already has from_go" unless session[:from_go].nil?
  end
  session = manager.verify_request(id, mac, "POST", "/cross", '{"n":1}')
  abort "ruby_side: from_go is #{session[:from_go].inspect}" unless session[:from_go] == "hello from Go"
  abort "ruby_side: from_c is #{session[:from_c].inspect}" unless session[:from_c] == 1
  abort "ruby_side: user is #{session.user_id.inspect}" unless session.user_id == "cross"
  session[:from_ruby] = "hello from Ruby"
  manager.save_session(session) # a new token: the response carries it
  warn "ruby_side: opened the tokens C and Go sealed, verified and wrote from_ruby"
  puts session.id
  session.close
  exit 0
end
manager.verify_request(id, mac, "POST", "/cross", '{"n":1}') do |session|
  abort "ruby_side: from_c is #{session[:from_c].inspect}" unless session[:from_c] == 1
  abort "ruby_side: user is #{session.user_id.inspect}" unless session.user_id == "cross"
  session[:from_ruby] = "hello from Ruby"
end
begin
  manager.verify_request(id, mac, "POST", "/cross", '{"n":2}')
  abort "ruby_side: a tampered body was accepted"
rescue TotoSession::InvalidHMAC
end
puts "ruby_side: verified and wrote from_ruby"
